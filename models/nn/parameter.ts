import { elementCount } from "@fxc/runtime/internal/weights/dtype";

/**
 * Parameters and buffers hold shapes, not weights: a model built for tracing allocates no
 * weight memory. Weights exist only once a checkpoint is loaded for a compiled graph.
 */
export class Parameter {
  readonly kind = "parameter";
  /** torch's `requires_grad`: false for the layers a detection backbone freezes (`trainable_layers`). */
  requiresGrad = true;
  constructor(readonly shape: readonly number[]) {}
}

export class Buffer {
  readonly kind = "buffer";
  constructor(
    readonly shape: readonly number[],
    readonly options: {
      /** torch dtype name; tfjs has no int64, so integer buffers are converted when read. */
      readonly dtype?: "float32" | "int64";
      /** Non-persistent buffers are not in the state_dict (torch's `persistent=False`). */
      readonly persistent?: boolean;
      /** Values computed at construction (e.g. index tables), used when the checkpoint has none. */
      readonly values?: () => Float32Array;
    } = {},
  ) {}

  get persistent(): boolean {
    return this.options.persistent ?? true;
  }

  /** The buffer this one is a view of (`buffer.view(...)`), or itself. */
  get stored(): Buffer {
    return this.viewOf ?? this;
  }
  private viewOf: Buffer | undefined;

  /**
   * `buffer.view(*shape)` in forward code. torch.fx computes it eagerly, as a buffer is a
   * constant to it (no node is listed); the result reads the same checkpoint tensor.
   */
  view(...shape: number[]): Buffer {
    const known = shape.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
    const total = elementCount(this.shape);
    const resolved = shape.map((d) => (d === -1 ? total / known : d));
    if (shape.filter((d) => d === -1).length > 1 || elementCount(resolved) !== total || !resolved.every(Number.isInteger)) {
      throw new Error(`a buffer of shape [${this.shape.join(", ")}] cannot be viewed as [${shape.join(", ")}]`);
    }
    const view = new Buffer(resolved, this.options);
    view.viewOf = this.stored;
    return view;
  }
}
