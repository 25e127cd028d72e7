/**
 * Which BLAS torch runs on, from what torchvision_bench.py's `blas` command saw in its own process.
 * Debian installs the netlib reference BLAS (libblas3) by default, which makes torch 10 to 40
 * times slower than OpenBLAS: no ratio is printed against it.
 */

/** What `torchvision_bench.py blas` prints. */
export interface TorchBlasReport {
  /** Mapped shared libraries whose names mention blas, lapack, mkl, blis, atlas or omp. */
  readonly libraries: readonly string[];
  /** BLAS_INFO from torch.__config__.show() ("mkl", "open", "generic", ...). */
  readonly blas_info: string;
  /** torch.backends.mkl.is_available(): pip's wheels link MKL statically, so no library shows. */
  readonly mkl: boolean;
  readonly openblas: { readonly core?: string; readonly threads?: number };
  readonly torch: string;
  readonly torchvision: string;
  /** BLAS and OpenMP variables the torch process inherited. */
  readonly env: Readonly<Record<string, string>>;
}

export type BlasKind = "openblas" | "mkl" | "blis" | "atlas" | "reference" | "unknown";

export interface Blas {
  readonly kind: BlasKind;
  /** One line for the bench's header. */
  readonly description: string;
}

/** The command that replaces Debian's reference BLAS for every program that links libblas.so.3. */
export const INSTALL_OPENBLAS = "apt-get install libopenblas0-pthread";

const baseName = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

export function classifyBlas(report: TorchBlasReport): Blas {
  const named = (prefix: string): string | undefined => report.libraries.find((path) => baseName(path).startsWith(prefix));
  const openblas = named("libopenblas");
  if (openblas !== undefined) {
    const { core, threads } = report.openblas;
    const details = [core && `core ${core}`, threads !== undefined && `${threads} thread${threads === 1 ? "" : "s"}`].filter(Boolean).join(", ");
    return { kind: "openblas", description: `OpenBLAS${details ? ` (${details})` : ""}, ${openblas}` };
  }
  const mkl = named("libmkl");
  if (mkl !== undefined || report.mkl || report.blas_info === "mkl") return { kind: "mkl", description: `MKL${mkl ? `, ${mkl}` : " (linked into torch)"}` };
  const blis = named("libblis");
  if (blis !== undefined) return { kind: "blis", description: `BLIS, ${blis}` };
  const atlas = report.libraries.find((path) => path.includes("atlas"));
  if (atlas !== undefined) return { kind: "atlas", description: `ATLAS, ${atlas}` };
  // Debian's netlib build: /usr/lib/<triplet>/blas/libblas.so.3 (alternatives pick it when nothing better is installed).
  const reference = named("libblas.so");
  if (reference !== undefined) return { kind: "reference", description: `the reference BLAS (netlib, Debian's libblas3), ${reference}` };
  return { kind: "unknown", description: `not identified (torch BLAS_INFO=${report.blas_info || "?"})` };
}

/** Why no ratio may be printed against torch on this BLAS, or undefined when one may. */
export function ratioRefusal(blas: Blas): string | undefined {
  return blas.kind === "reference" ? `torch runs on the reference BLAS, which no user should benchmark; ${INSTALL_OPENBLAS}` : undefined;
}
