import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";

/** A fresh temporary directory, fxc-PREFIX-XXXXXX, removed when the test (or test file) that made it finishes, passed or not. */
export async function tempDir(prefix = "test"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `fxc-${prefix}-`));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
