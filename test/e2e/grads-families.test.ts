import { test } from "node:test";
import { checkGradients, GRAD_CASES } from "../support/grads.js";

/** Gradients through compiled extractors against torch autograd, every fixture case in both modes (test/support/grads.ts). */

for (const [id, c] of Object.entries(GRAD_CASES)) {
  for (const run of c.runs) {
    test(`${id} ${run.mode}: gradients of the input and of parameters equal torch autograd's`, () => checkGradients(id, run));
  }
}
