import { escapeInvisible } from "./emit/literal.js";

/**
 * The rule for names a user gives that become parts of code and files: output keys (object keys
 * of every result, properties of the generated `Features` interface, `KEY.npy` file names,
 * safetensors tensor names) and module names (`NAME.ts`, the `NameFeatures` interface).
 *
 * One conservative rule, checked where the names are read (the API's options and the CLI's
 * arguments refuse with the same line): letters, digits, `_`, `.` and `-`, so that a name can
 * never end a comment, open a string, climb out of a folder (`..` cannot start a name) or hide a
 * control character; torchvision's node names (`layer1.0`, `features.3.conv.0.0`) all pass.
 */

/** The longest name: torchvision's longest node name is 138 characters; KEY-00001.npy and its temporary name stay under 255 bytes. */
export const MAX_NAME_LENGTH = 200;

const NAME = /^[A-Za-z0-9_.-]*$/;

/**
 * Names every JavaScript object already answers to: `__proto__` is not even stored as a key by
 * an object literal or an assignment, and the others are the usual prototype-pollution gadgets.
 */
const RESERVED = new Set(["__proto__", "constructor", "prototype"]);

/** The name as a message shows it: quoted, with control characters escaped, so that the message stays one line. */
export function quoteName(name: string): string {
  return escapeInvisible(JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name));
}

function nameProblem(name: string, first: RegExp, firstText: string): string | undefined {
  if (name.length === 0) return "is empty";
  if (name.length > MAX_NAME_LENGTH) return `is ${name.length} characters long, more than ${MAX_NAME_LENGTH}`;
  if (!NAME.test(name)) return "may hold only letters, digits, '_', '.' and '-'";
  if (!first.test(name)) return `must start with ${firstText}`;
  if (RESERVED.has(name)) return "is a name every JavaScript object already has";
  return undefined;
}

/**
 * Why `key` cannot be an output key, as one line that names the key and the fix; undefined when
 * it can. A leading digit is allowed (torchvision's FPN levels are "0", "1", ...), but JavaScript
 * lists integer-like keys first, ascending: resolveReturnNodes refuses keys whose object order
 * would not be the execution order.
 */
export function outputKeyMessage(key: string): string | undefined {
  const problem = nameProblem(key, /^[A-Za-z0-9_]/, "a letter, a digit or '_'");
  if (problem === undefined) return undefined;
  return `output key ${quoteName(key)} ${problem}; give the node a key of letters, digits, '_', '.' and '-' (NODE:KEY in --return, { NODE: "KEY" } in returnNodes)`;
}

/** Why `name` cannot name a compiled module (its file and its `NameFeatures` interface); undefined when it can. */
export function moduleNameMessage(name: string): string | undefined {
  const problem = nameProblem(name, /^[A-Za-z]/, "a letter");
  if (problem === undefined) return undefined;
  return `module name ${quoteName(name)} ${problem}; give a name of letters, digits, '_', '.' and '-' that starts with a letter, such as resnet50_layers (--name, or the name option)`;
}
