import { oneLine } from "./types.js";
import { FxcError } from "../errors.js";

/**
 * An allowlist unpickler that never executes code. It understands the opcodes of pickle protocols 0-5
 * that torch checkpoints use; globals become inert `PickleGlobal` names, and calling one (REDUCE, NEWOBJ,
 * INST, OBJ) only runs a function the caller explicitly allowed. Everything else becomes an inert
 * `PickleObject` placeholder that records the class name, so whole training checkpoints stay readable.
 */

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleTuple
  | PickleList
  | PickleDict
  | PickleSet
  | PickleGlobal
  | PickleObject
  | PickleForeign;

/** Python tuples are immutable, so a frozen array; lists are `PickleList` so the two stay distinguishable. */
export type PickleTuple = readonly PickleValue[];

/*
 * Containers create their Maps and arrays on first use: EMPTY_DICT and EMPTY_LIST are one-byte opcodes,
 * and eager ones (an empty Map alone is ~200 bytes) let each byte of a crafted pickle take hundreds.
 */

export class PickleList {
  private itemArray: PickleValue[] | undefined;
  get items(): PickleValue[] {
    return (this.itemArray ??= []);
  }
}

export class PickleDict {
  private entryMap: Map<PickleValue, PickleValue> | undefined;
  private attributeMap: Map<string, PickleValue> | undefined;
  constructor(readonly className: "dict" | "collections.OrderedDict") {}
  /** Insertion-ordered, like Python dicts; primitive keys compare by value. */
  get entries(): Map<PickleValue, PickleValue> {
    return (this.entryMap ??= new Map());
  }
  /** Instance attributes set through BUILD, e.g. the `_metadata` of a torch state_dict. */
  get attributes(): Map<string, PickleValue> {
    return (this.attributeMap ??= new Map());
  }
}

export class PickleSet {
  private itemArray: PickleValue[] | undefined;
  constructor(readonly frozen: boolean) {}
  get items(): PickleValue[] {
    return (this.itemArray ??= []);
  }
}

/** A reference to `module.name`, never resolved to anything executable. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get dottedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of a class that is not allowed: it records what was asked for and is never called. */
export class PickleObject {
  state: PickleValue | undefined = undefined;
  private dictItemMap: Map<PickleValue, PickleValue> | undefined;
  private listItemArray: PickleValue[] | undefined;
  constructor(
    readonly className: string,
    readonly args: PickleTuple,
  ) {}
  get dictItems(): Map<PickleValue, PickleValue> {
    return (this.dictItemMap ??= new Map());
  }
  get listItems(): PickleValue[] {
    return (this.listItemArray ??= []);
  }
}

/** Base class for values made by allowed callables or by persistent loads (tensors, storages...). */
export abstract class PickleForeign {
  /** Short description for error messages, e.g. "tensor of shape [2, 3]". */
  abstract describe(): string;
  /** BUILD on a foreign value: ignored unless a subclass cares. */
  setState(_state: PickleValue): void {}
}

export type PickleCallable = (args: PickleTuple) => PickleValue;

export interface UnpickleOptions {
  /** Callables allowed by dotted name (`torch._utils._rebuild_tensor_v2`). Any other call makes a placeholder. */
  readonly callables?: ReadonlyMap<string, PickleCallable>;
  /** Resolves persistent ids (torch storages). Without it, PERSID opcodes are an error. */
  readonly persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Byte offset where the pickle starts (several pickles may follow each other). */
  readonly start?: number;
  /** Bounds on what the pickle may make; DEFAULT_PICKLE_LIMITS where not given. */
  readonly limits?: Partial<PickleLimits>;
}

/**
 * What a pickle may make, checked before each allocation, so that a crafted pickle fails fast with a
 * PickleLimitError instead of taking gigabytes (a dict costs hundreds of bytes but its opcode one byte).
 */
export interface PickleLimits {
  /** Values pushed (containers, strings, numbers, references: each costs memory) and memo entries kept. */
  readonly maxObjects: number;
  /** MARKs open at once: how deeply the pickle nests what it builds. */
  readonly maxMarkDepth: number;
  /** Digits of a text integer (INT, LONG, memo indices) and bytes of a binary LONG4. */
  readonly maxIntegerDigits: number;
}

export const DEFAULT_PICKLE_LIMITS: PickleLimits = Object.freeze({
  // Measured with torch 1.13: resnet50's state_dict pickle pushes 7,226 values, a vit_h_14 checkpoint with
  // Adam state 34,179. A million is 30 times that, and bounds a pickle of one-byte EMPTY_DICTs to ~100 MB.
  maxObjects: 1_000_000,
  // Python pickles recursively and stops at its recursion limit (1000 by default), so real pickles nest far less.
  maxMarkDepth: 10_000,
  // Python's own bound on converting between int and str (sys.get_int_max_str_digits()); BigInt parsing is quadratic.
  maxIntegerDigits: 4300,
});

export class PickleError extends FxcError {
  override name = "PickleError";
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(oneLine(`${message} (pickle byte ${offset})`));
  }
}

/** The data ended before STOP: either a truncated file or a prefix that was too short. */
export class PickleTruncatedError extends PickleError {
  override name = "PickleTruncatedError";
}

/** The pickle goes past one of its PickleLimits; `limit` names which, so callers can say how to raise it. */
export class PickleLimitError extends PickleError {
  override name = "PickleLimitError";
  constructor(
    message: string,
    offset: number,
    readonly limit: keyof PickleLimits,
    readonly value: number,
  ) {
    super(message, offset);
  }
}

const ORDERED_DICT = "collections.OrderedDict";

/** Unpickles one pickle from `bytes`; returns the value and the offset just after its STOP opcode. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions = {}): { value: PickleValue; end: number } {
  return new Unpickler(bytes, options).run();
}

class Unpickler {
  private position: number;
  private stack: PickleValue[] = [];
  private readonly marks: number[] = [];
  private readonly memo = new Map<number, PickleValue>();
  private readonly limits: PickleLimits;
  /** Values pushed so far, against limits.maxObjects. */
  private pushed = 0;
  private readonly data: DataView;
  private readonly utf8 = new TextDecoder("utf-8", { fatal: true });

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.position = options.start ?? 0;
    this.limits = { ...DEFAULT_PICKLE_LIMITS, ...definedOnly(options.limits ?? {}) };
    this.data = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  run(): { value: PickleValue; end: number } {
    for (;;) {
      const at = this.position;
      const opcode = this.u8();
      if (opcode === 0x2e /* . STOP */) return { value: this.pop(at), end: this.position };
      this.step(opcode, at);
    }
  }

  private step(opcode: number, at: number): void {
    switch (opcode) {
      // Framing and protocol.
      case 0x80: /* PROTO */ {
        const protocol = this.u8();
        if (protocol > 5) throw new PickleError(`unsupported pickle protocol ${protocol}`, at);
        return;
      }
      case 0x95 /* FRAME */:
        this.take(8);
        return;

      // Stack structure.
      case 0x28 /* ( MARK */:
        if (this.marks.length >= this.limits.maxMarkDepth) {
          throw new PickleLimitError(`pickle nests more than ${this.limits.maxMarkDepth} MARKs deep`, at, "maxMarkDepth", this.limits.maxMarkDepth);
        }
        this.marks.push(this.stack.length);
        return;
      case 0x30 /* 0 POP */:
        this.pop(at);
        return;
      case 0x31 /* 1 POP_MARK */:
        this.popMark(at);
        return;
      case 0x32 /* 2 DUP */:
        this.push(this.top(at));
        return;

      // Constants.
      case 0x4e /* N NONE */:
        this.push(null);
        return;
      case 0x88 /* NEWTRUE */:
        this.push(true);
        return;
      case 0x89 /* NEWFALSE */:
        this.push(false);
        return;

      // Numbers.
      case 0x4a /* J BININT */:
        this.push(this.data.getInt32(this.advance(4), true));
        return;
      case 0x4b /* K BININT1 */:
        this.push(this.u8());
        return;
      case 0x4d /* M BININT2 */:
        this.push(this.data.getUint16(this.advance(2), true));
        return;
      case 0x8a /* LONG1 */:
        this.push(littleEndianSigned(this.take(this.u8())));
        return;
      case 0x8b: /* LONG4 */ {
        const length = this.data.getInt32(this.advance(4), true);
        if (length < 0) throw new PickleError(`LONG4 of ${length} bytes`, at);
        if (length > this.limits.maxIntegerDigits) {
          throw new PickleLimitError(`LONG4 integer of ${length} bytes is longer than ${this.limits.maxIntegerDigits}`, at, "maxIntegerDigits", this.limits.maxIntegerDigits);
        }
        this.push(littleEndianSigned(this.take(length)));
        return;
      }
      case 0x47 /* G BINFLOAT (big-endian) */:
        this.push(this.data.getFloat64(this.advance(8), false));
        return;
      case 0x49: /* I INT (text; 00/01 are protocol-0 booleans) */ {
        const text = this.integerLine(at);
        if (text === "00" || text === "01") this.push(text === "01");
        else this.push(parseInteger(text, at));
        return;
      }
      case 0x4c /* L LONG (text, trailing L) */:
        this.push(parseInteger(this.integerLine(at).replace(/L$/, ""), at));
        return;
      case 0x46 /* F FLOAT (text, Python repr: also inf, -inf, nan) */:
        this.push(parseFloatRepr(this.line(), at));
        return;

      // Strings and bytes.
      case 0x58 /* X BINUNICODE */:
        this.push(this.text(this.take(this.data.getUint32(this.advance(4), true)), at));
        return;
      case 0x8c /* SHORT_BINUNICODE */:
        this.push(this.text(this.take(this.u8()), at));
        return;
      case 0x8d /* BINUNICODE8 */:
        this.push(this.text(this.take(this.u64(at)), at));
        return;
      case 0x42 /* B BINBYTES */:
        this.push(copyOf(this.take(this.data.getUint32(this.advance(4), true))));
        return;
      case 0x43 /* C SHORT_BINBYTES */:
        this.push(copyOf(this.take(this.u8())));
        return;
      case 0x8e: /* BINBYTES8 */
      case 0x96 /* BYTEARRAY8 */:
        this.push(copyOf(this.take(this.u64(at))));
        return;
      // Python 2 `str`: torch.load decodes these as UTF-8 text, and so do we.
      case 0x54: /* T BINSTRING */ {
        const length = this.data.getInt32(this.advance(4), true);
        if (length < 0) throw new PickleError("BINSTRING with negative length", at);
        this.push(this.python2Text(this.take(length)));
        return;
      }
      case 0x55 /* U SHORT_BINSTRING */:
        this.push(this.python2Text(this.take(this.u8())));
        return;
      case 0x53 /* S STRING (quoted repr) */:
        this.push(parseQuotedString(this.line(), at));
        return;
      case 0x56 /* V UNICODE (raw-unicode-escape) */:
        this.push(parseRawUnicodeEscape(this.line()));
        return;

      // Containers.
      case 0x7d /* } EMPTY_DICT */:
        this.push(new PickleDict("dict"));
        return;
      case 0x5d /* ] EMPTY_LIST */:
        this.push(new PickleList());
        return;
      case 0x29 /* ) EMPTY_TUPLE */:
        this.push(Object.freeze([]));
        return;
      case 0x8f /* EMPTY_SET */:
        this.push(new PickleSet(false));
        return;
      case 0x64: /* d DICT */ {
        const items = this.popMark(at);
        const dict = new PickleDict("dict");
        for (let i = 0; i + 1 < items.length; i += 2) dict.entries.set(items[i]!, items[i + 1]!);
        this.push(dict);
        return;
      }
      case 0x6c: /* l LIST */ {
        const list = new PickleList();
        appendAll(list.items, this.popMark(at));
        this.push(list);
        return;
      }
      case 0x74 /* t TUPLE */:
        this.push(Object.freeze(this.popMark(at)));
        return;
      case 0x85 /* TUPLE1 */:
        this.push(Object.freeze(this.popN(1, at)));
        return;
      case 0x86 /* TUPLE2 */:
        this.push(Object.freeze(this.popN(2, at)));
        return;
      case 0x87 /* TUPLE3 */:
        this.push(Object.freeze(this.popN(3, at)));
        return;
      case 0x91: /* FROZENSET */ {
        const set = new PickleSet(true);
        appendAll(set.items, this.popMark(at));
        this.push(set);
        return;
      }
      case 0x73: /* s SETITEM */ {
        const [key, value] = this.popN(2, at) as [PickleValue, PickleValue];
        this.setItems(this.top(at), [key, value], at);
        return;
      }
      case 0x75: /* u SETITEMS */ {
        const items = this.popMark(at);
        this.setItems(this.top(at), items, at);
        return;
      }
      case 0x61: /* a APPEND */ {
        const item = this.pop(at);
        this.appendItems(this.top(at), [item], at);
        return;
      }
      case 0x65: /* e APPENDS */ {
        const items = this.popMark(at);
        this.appendItems(this.top(at), items, at);
        return;
      }
      case 0x90: /* ADDITEMS */ {
        const items = this.popMark(at);
        const target = this.top(at);
        if (!(target instanceof PickleSet)) throw new PickleError(`ADDITEMS on ${describePickleValue(target)}`, at);
        appendAll(target.items, items);
        return;
      }

      // Memo.
      case 0x71 /* q BINPUT */:
        this.remember(this.u8(), at);
        return;
      case 0x72 /* r LONG_BINPUT */:
        this.remember(this.data.getUint32(this.advance(4), true), at);
        return;
      case 0x70 /* p PUT */:
        this.remember(parseIndex(this.integerLine(at), at), at);
        return;
      case 0x94 /* MEMOIZE */:
        this.remember(this.memo.size, at);
        return;
      case 0x68 /* h BINGET */:
        this.push(this.recall(this.u8(), at));
        return;
      case 0x6a /* j LONG_BINGET */:
        this.push(this.recall(this.data.getUint32(this.advance(4), true), at));
        return;
      case 0x67 /* g GET */:
        this.push(this.recall(parseIndex(this.integerLine(at), at), at));
        return;

      // Globals and object construction: only allowed callables run, the rest become placeholders.
      case 0x63: /* c GLOBAL */ {
        const module = this.line();
        this.push(new PickleGlobal(module, this.line()));
        return;
      }
      case 0x93: /* STACK_GLOBAL */ {
        const [module, name] = this.popN(2, at);
        if (typeof module !== "string" || typeof name !== "string")
          throw new PickleError("STACK_GLOBAL without names", at);
        this.push(new PickleGlobal(module, name));
        return;
      }
      case 0x52: /* R REDUCE */ {
        const args = this.pop(at);
        const callable = this.pop(at);
        this.push(this.call(callable, asTuple(args, at), at));
        return;
      }
      case 0x81: /* NEWOBJ */ {
        const args = this.pop(at);
        const cls = this.pop(at);
        this.push(this.call(cls, asTuple(args, at), at));
        return;
      }
      case 0x92: /* NEWOBJ_EX (keyword arguments are dropped: no allowed callable takes any) */ {
        const [cls, args] = this.popN(3, at);
        this.push(this.call(cls!, asTuple(args!, at), at));
        return;
      }
      case 0x69: /* i INST */ {
        const module = this.line();
        const name = this.line();
        this.push(this.call(new PickleGlobal(module, name), Object.freeze(this.popMark(at)), at));
        return;
      }
      case 0x6f: /* o OBJ */ {
        const [cls, ...args] = this.popMark(at);
        if (cls === undefined) throw new PickleError("OBJ without a class", at);
        this.push(this.call(cls, Object.freeze(args), at));
        return;
      }
      case 0x62: /* b BUILD */ {
        const state = this.pop(at);
        this.build(this.top(at), state, at);
        return;
      }

      // Persistent ids: how torch refers to tensor storages outside the pickle.
      case 0x51 /* Q BINPERSID */:
        this.push(this.persistent(this.pop(at), at));
        return;
      case 0x50 /* P PERSID */:
        this.push(this.persistent(this.line(), at));
        return;

      case 0x82: /* EXT1 */
      case 0x83: /* EXT2 */
      case 0x84 /* EXT4 */:
        throw new PickleError("pickle uses the copyreg extension registry, which torch checkpoints never do", at);
      case 0x97: /* NEXT_BUFFER */
      case 0x98 /* READONLY_BUFFER */:
        throw new PickleError("pickle uses out-of-band buffers, which torch checkpoints never do", at);
      default:
        throw new PickleError(`unknown pickle opcode 0x${opcode.toString(16).padStart(2, "0")}`, at);
    }
  }

  private call(callable: PickleValue, args: PickleTuple, at: number): PickleValue {
    if (!(callable instanceof PickleGlobal)) {
      return new PickleObject(`(call of ${describePickleValue(callable)})`, args);
    }
    const name = callable.dottedName;
    if (name === ORDERED_DICT) {
      const dict = new PickleDict(ORDERED_DICT);
      // OrderedDict(list_of_pairs) from old protocols; newer pickles add items with SETITEMS instead.
      const pairs = args[0];
      if (pairs instanceof PickleList) {
        for (const pair of pairs.items) {
          if (Array.isArray(pair) && pair.length === 2) dict.entries.set(pair[0], pair[1]);
        }
      }
      return dict;
    }
    const allowed = this.options.callables?.get(name);
    if (allowed === undefined) return new PickleObject(name, args);
    try {
      return allowed(args);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new PickleError(`${name} rejected its arguments: ${detail}`, at);
    }
  }

  private build(target: PickleValue, state: PickleValue, at: number): void {
    if (target instanceof PickleObject) {
      target.state = state;
    } else if (target instanceof PickleDict) {
      // No __setstate__ on dicts: the state updates instance attributes; a (dict, slots) pair sets both.
      const parts = Array.isArray(state) && state.length === 2 ? state : [state];
      for (const part of parts) {
        if (part === null) continue;
        if (!(part instanceof PickleDict))
          throw new PickleError(`BUILD of a dict with ${describePickleValue(part)}`, at);
        for (const [key, value] of part.entries) {
          if (typeof key === "string") target.attributes.set(key, value);
        }
      }
    } else if (target instanceof PickleForeign) {
      target.setState(state);
    } else {
      throw new PickleError(`BUILD on ${describePickleValue(target)}`, at);
    }
  }

  private setItems(target: PickleValue, items: readonly PickleValue[], at: number): void {
    const map =
      target instanceof PickleDict ? target.entries : target instanceof PickleObject ? target.dictItems : undefined;
    if (map === undefined) throw new PickleError(`SETITEM on ${describePickleValue(target)}`, at);
    for (let i = 0; i + 1 < items.length; i += 2) map.set(items[i]!, items[i + 1]!);
  }

  private appendItems(target: PickleValue, items: readonly PickleValue[], at: number): void {
    const list =
      target instanceof PickleList ? target.items : target instanceof PickleObject ? target.listItems : undefined;
    if (list === undefined) throw new PickleError(`APPEND on ${describePickleValue(target)}`, at);
    appendAll(list, items);
  }

  private persistent(pid: PickleValue, at: number): PickleValue {
    const load = this.options.persistentLoad;
    if (load === undefined) throw new PickleError("pickle has a persistent id but no loader was given", at);
    try {
      return load(pid);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      throw new PickleError(`bad persistent id: ${detail}`, at);
    }
  }

  /** Pushes a value, counting it against maxObjects first. */
  private push(value: PickleValue): void {
    if (this.pushed >= this.limits.maxObjects) throw this.tooManyObjects(this.position);
    this.pushed++;
    this.stack.push(value);
  }

  /** Stores the top of the stack in the memo; a new entry counts against maxObjects too. */
  private remember(index: number, at: number): void {
    const value = this.top(at);
    if (!this.memo.has(index) && this.memo.size >= this.limits.maxObjects) throw this.tooManyObjects(at);
    this.memo.set(index, value);
  }

  private tooManyObjects(at: number): PickleLimitError {
    const limit = this.limits.maxObjects;
    return new PickleLimitError(`pickle makes more than ${limit} objects`, at, "maxObjects", limit);
  }

  private recall(index: number, at: number): PickleValue {
    const value = this.memo.get(index);
    if (value === undefined) throw new PickleError(`memo entry ${index} is read before it is written`, at);
    return value;
  }

  private pop(at: number): PickleValue {
    if (this.stack.length === 0 || this.stack.length === this.marks[this.marks.length - 1]) {
      throw new PickleError("pickle stack underflow", at);
    }
    return this.stack.pop()!;
  }

  private popN(count: number, at: number): PickleValue[] {
    const floor = this.marks[this.marks.length - 1] ?? 0;
    if (this.stack.length - count < floor) throw new PickleError("pickle stack underflow", at);
    return this.stack.splice(this.stack.length - count, count);
  }

  private top(at: number): PickleValue {
    if (this.stack.length === 0) throw new PickleError("pickle stack underflow", at);
    return this.stack[this.stack.length - 1]!;
  }

  private popMark(at: number): PickleValue[] {
    const mark = this.marks.pop();
    if (mark === undefined) throw new PickleError("pickle pops a MARK that was never pushed", at);
    return this.stack.splice(mark);
  }

  /** Reserves `count` bytes and returns where they start; running out is a truncation. */
  private advance(count: number): number {
    const at = this.position;
    if (at + count > this.bytes.byteLength) throw new PickleTruncatedError("pickle data ends early", at);
    this.position = at + count;
    return at;
  }

  private take(count: number): Uint8Array {
    const at = this.advance(count);
    return this.bytes.subarray(at, at + count);
  }

  private u8(): number {
    return this.bytes[this.advance(1)]!;
  }

  private u64(at: number): number {
    const value = this.data.getBigUint64(this.advance(8), true);
    if (value > BigInt(this.bytes.byteLength)) throw new PickleTruncatedError("pickle data ends early", at);
    return Number(value);
  }

  /** A newline-terminated text argument of the protocol-0 opcodes (ASCII by definition). */
  private line(): string {
    const start = this.position;
    const end = this.bytes.indexOf(0x0a, start);
    if (end < 0) throw new PickleTruncatedError("pickle data ends early", start);
    this.position = end + 1;
    return latin1(this.bytes.subarray(start, end));
  }

  /** The text argument of INT, LONG, PUT or GET, refused before decoding if it has more digits than allowed. */
  private integerLine(at: number): string {
    const start = this.position;
    const end = this.bytes.indexOf(0x0a, start);
    // A sign, Python 2's trailing L and stray spaces are not digits; allow a few such characters.
    const limit = this.limits.maxIntegerDigits;
    if (end - start > limit + 4 || (end < 0 && this.bytes.byteLength - start > limit + 4)) {
      const digits = (end < 0 ? this.bytes.byteLength : end) - start;
      throw new PickleLimitError(`integer literal of ${digits} characters is longer than ${limit} digits`, at, "maxIntegerDigits", limit);
    }
    return this.line();
  }

  private text(bytes: Uint8Array, at: number): string {
    try {
      return this.utf8.decode(bytes);
    } catch {
      throw new PickleError("string is not valid UTF-8", at);
    }
  }

  private python2Text(bytes: Uint8Array): string {
    try {
      return this.utf8.decode(bytes);
    } catch {
      return latin1(bytes);
    }
  }
}

function asTuple(value: PickleValue, at: number): PickleTuple {
  if (!Array.isArray(value)) throw new PickleError(`call arguments are ${describePickleValue(value)}, not a tuple`, at);
  return value;
}

/** A copy that owns its memory (a Buffer's slice() would still share the caller's bytes). */
function copyOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

/** Appends one at a time: `push(...items)` passes every item as an argument and overflows the call stack past ~100k. */
function appendAll(target: PickleValue[], items: readonly PickleValue[]): void {
  for (const item of items) target.push(item);
}

function definedOnly(limits: Partial<PickleLimits>): Partial<PickleLimits> {
  return Object.fromEntries(Object.entries(limits).filter(([, value]) => value !== undefined));
}

/** Two's-complement little-endian integer of any width, as a number when it fits exactly. */
function littleEndianSigned(bytes: Uint8Array): number | bigint {
  if (bytes.length === 0) return 0;
  let value = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i]!);
  if ((bytes[bytes.length - 1]! & 0x80) !== 0) value -= 1n << BigInt(8 * bytes.length);
  return toNumberIfSafe(value);
}

function toNumberIfSafe(value: bigint): number | bigint {
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

function parseInteger(text: string, at: number): number | bigint {
  if (!/^[+-]?\d+$/.test(text.trim())) throw new PickleError(`'${text}' is not an integer`, at);
  return toNumberIfSafe(BigInt(text.trim()));
}

const FLOAT_WORDS: ReadonlyMap<string, number> = new Map([
  ["inf", Infinity],
  ["-inf", -Infinity],
  ["nan", Number.NaN],
  ["-nan", Number.NaN],
]);

function parseFloatRepr(text: string, at: number): number {
  const word = FLOAT_WORDS.get(text.trim().toLowerCase());
  if (word !== undefined) return word;
  const value = text.trim() === "" ? Number.NaN : Number(text);
  if (Number.isNaN(value)) throw new PickleError(`'${text}' is not a float`, at);
  return value;
}

function parseIndex(text: string, at: number): number {
  const value = parseInteger(text, at);
  if (typeof value !== "number" || value < 0) throw new PickleError(`bad memo index '${text}'`, at);
  return value;
}

/** Python 2 `repr` of a str, as protocol 0 writes it: quoted, with backslash escapes. */
function parseQuotedString(text: string, at: number): string {
  const quote = text[0];
  if ((quote !== "'" && quote !== '"') || text.length < 2 || text[text.length - 1] !== quote) {
    throw new PickleError("STRING argument is not quoted", at);
  }
  const body = text.slice(1, -1);
  const simple: Readonly<Record<string, string>> = {
    n: "\n",
    r: "\r",
    t: "\t",
    "\\": "\\",
    "'": "'",
    '"': '"',
    "0": "\0",
  };
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_match, escape: string) => {
    if (escape[0] === "x") return String.fromCharCode(parseInt(escape.slice(1), 16));
    if (/^[0-7]+$/.test(escape)) return String.fromCharCode(parseInt(escape, 8));
    return simple[escape] ?? `\\${escape}`;
  });
}

function parseRawUnicodeEscape(text: string): string {
  return text.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_match, short?: string, long?: string) =>
    String.fromCodePoint(parseInt(short ?? long ?? "0", 16)),
  );
}

/** A short human description of a value, for error messages ("int 3", "argparse.Namespace object"). */
export function describePickleValue(value: PickleValue): string {
  if (value === null) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return Number.isInteger(value) ? `int ${value}` : `float ${value}`;
  if (typeof value === "bigint") return `int ${value}`;
  if (typeof value === "string") return `str '${value.length > 40 ? `${value.slice(0, 40)}...` : value}'`;
  if (value instanceof Uint8Array) return `bytes (${value.byteLength})`;
  if (Array.isArray(value)) return `tuple of ${value.length}`;
  if (value instanceof PickleList) return `list of ${value.items.length}`;
  if (value instanceof PickleDict) return `${value.className} of ${value.entries.size}`;
  if (value instanceof PickleSet) return `${value.frozen ? "frozenset" : "set"} of ${value.items.length}`;
  if (value instanceof PickleGlobal) return `reference to ${value.dottedName}`;
  if (value instanceof PickleObject) return `${value.className} object`;
  if (value instanceof PickleForeign) return value.describe();
  return "unknown value";
}
