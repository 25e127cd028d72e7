import cliProgress from "cli-progress";

export interface Progress {
  /** Images done so far (skipped ones included). */
  update(done: number): void;
  /** Removes the bar, if any. */
  stop(): void;
}

/**
 * A progress bar on stderr (images, images/s, ETA) when stderr is a terminal and the run is not
 * quiet; otherwise nothing until the caller's one-line summary.
 */
export function progressBar(total: number, options: { quiet: boolean; label: string }): Progress {
  if (options.quiet || !process.stderr.isTTY) return { update: () => undefined, stop: () => undefined };
  const started = performance.now();
  const bar = new cliProgress.SingleBar({
    stream: process.stderr,
    format: `fxc ${options.label} {bar} {value}/{total} images | {speed} images/s | ETA {eta_formatted}`,
    barsize: 30,
    hideCursor: true,
    clearOnComplete: true,
    etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, { speed: "0.0" });
  return {
    update(done) {
      bar.update(done, { speed: (done / Math.max((performance.now() - started) / 1000, 1e-3)).toFixed(1) });
    },
    stop() {
      bar.stop();
    },
  };
}

/** `12.3 s, 24.4 images/s` */
export function rate(images: number, seconds: number): string {
  return `${seconds.toFixed(1)} s, ${(images / Math.max(seconds, 1e-3)).toFixed(1)} images/s`;
}
