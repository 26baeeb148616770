/**
 * A small typed builder for ONNX models over the `onnx-proto` protobuf classes (no hand-written
 * protobuf bytes). Shared by the ONNX Runtime embedder (issue 18) and the model export (issue 17).
 *
 *   const g = new OnnxGraph('head');
 *   const x = g.input('x', [BATCH, 256]);                    // dynamic batch dimension
 *   const w = g.initializer('w', weights, [256, 10]);         // Float32Array → raw_data
 *   const [y] = g.node('MatMul', [x, w]);                     // output names are generated
 *   const [p] = g.node('Softmax', [y], { axis: -1 });
 *   g.output(p, [BATCH, 10]);
 *   const bytes = serializeModel(g, { metadata: { rank1_version: '1' } });  // opset 17
 *
 * Attribute values: integers and integer arrays are INT/INTS, strings STRING, Float32Array or a
 * value wrapped in `float()` / `floats()` FLOAT/FLOATS (ONNX Runtime checks attribute types, so a
 * float attribute such as Gemm's alpha or BatchNormalization's epsilon must be given as a float).
 * A non-integer plain number is a FLOAT too.
 */
import onnxProto from 'onnx-proto';

export const { onnx } = onnxProto;

/** The opset every model we write declares (ONNX 1.12, supported by onnxruntime ≥ 1.12). */
export const OPSET = 17;
/** IR version 8 (ONNX 1.10+), the newest the onnx-proto package's schema knows. */
export const IR_VERSION = 8;
/** The name of the symbolic batch dimension. */
export const BATCH = 'batch';

export type Dim = number | string;
export type ElemType = 'float' | 'int64' | 'int32' | 'uint8' | 'bool';

const ELEM: Record<ElemType, number> = {
  float: onnx.TensorProto.DataType.FLOAT,
  int64: onnx.TensorProto.DataType.INT64,
  int32: onnx.TensorProto.DataType.INT32,
  uint8: onnx.TensorProto.DataType.UINT8,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** A value forced to FLOAT / FLOATS (see the module comment). */
export interface FloatAttr {
  readonly kind: 'float';
  readonly value: number;
}
export interface FloatsAttr {
  readonly kind: 'floats';
  readonly value: readonly number[];
}
export const float = (value: number): FloatAttr => ({ kind: 'float', value });
export const floats = (value: readonly number[]): FloatsAttr => ({ kind: 'floats', value });

export type AttrValue =
  number | string | readonly number[] | readonly string[] | Float32Array | FloatAttr | FloatsAttr;
export type Attrs = Record<string, AttrValue | undefined>;

export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array;

function elemOf(data: TensorData): ElemType {
  if (data instanceof Float32Array) return 'float';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'uint8';
}

/** Little-endian bytes of a typed array (ONNX raw_data is little-endian; so is every host we ship on). */
function rawBytes(data: TensorData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

function toAttribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (typeof v === 'number')
    return Number.isInteger(v) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
  if (v instanceof Float32Array) return { name, type: T.FLOATS, floats: Array.from(v) };
  if (!Array.isArray(v) && typeof v === 'object' && 'kind' in v) {
    return v.kind === 'float'
      ? { name, type: T.FLOAT, f: v.value }
      : { name, type: T.FLOATS, floats: [...v.value] };
  }
  const arr = v as readonly (number | string)[];
  if (arr.every((x) => typeof x === 'string'))
    return { name, type: T.STRINGS, strings: arr.map((s) => new TextEncoder().encode(s as string)) };
  const nums = arr as readonly number[];
  return nums.every((x) => Number.isInteger(x))
    ? { name, type: T.INTS, ints: [...nums] }
    : { name, type: T.FLOATS, floats: [...nums] };
}

function valueInfo(name: string, dims: readonly Dim[], elem: ElemType): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: ELEM[elem],
        shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** A graph under construction. Names are the graph's values; every method returns the names it made. */
export class OnnxGraph {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly inits: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private counter = 0;

  constructor(readonly name: string) {}

  /** A name not used yet in this graph, built from `base` (sanitised of nothing: ONNX names are free text). */
  unique(base: string): string {
    let n = base;
    while (this.used.has(n)) n = `${base}_${++this.counter}`;
    this.used.add(n);
    return n;
  }

  /** A graph input. Use BATCH (or any string) for a symbolic dimension. */
  input(name: string, dims: readonly Dim[], elem: ElemType = 'float'): string {
    const n = this.claim(name);
    this.inputs.push(valueInfo(n, dims, elem));
    return n;
  }

  /** Declares an existing value as a graph output (its name is kept). */
  output(name: string, dims: readonly Dim[], elem: ElemType = 'float'): string {
    if (!this.used.has(name))
      throw new Error(`ONNX graph ${this.name}: output "${name}" is not a value of the graph`);
    this.outputs.push(valueInfo(name, dims, elem));
    return name;
  }

  /** A constant tensor stored in the model (float32, int64, int32 or uint8, by the array's type). */
  initializer(name: string, data: TensorData, dims: readonly number[]): string {
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length)
      throw new Error(
        `ONNX graph ${this.name}: initializer "${name}" has ${data.length} values for shape [${dims.join(', ')}]`,
      );
    const n = this.unique(name);
    this.inits.push({ name: n, dims: [...dims], dataType: ELEM[elemOf(data)], rawData: rawBytes(data) });
    return n;
  }

  /** An int64 1-D constant (shapes, axes, pads given as inputs). */
  int64s(name: string, values: readonly number[]): string {
    return this.initializer(name, BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
  }

  /**
   * Appends a node. `outputs` is a list of names or a count (default 1) of generated names
   * (`<name or op>_out<i>`). An empty string in `inputs` is an omitted optional input.
   */
  node(
    opType: string,
    inputs: readonly string[],
    attrs: Attrs = {},
    opts: { name?: string; outputs?: readonly string[] | number; domain?: string } = {},
  ): string[] {
    for (const i of inputs)
      if (i !== '' && !this.used.has(i))
        throw new Error(`ONNX graph ${this.name}: ${opType} input "${i}" is not a value of the graph`);
    const nodeName = this.unique(opts.name ?? opType);
    const outs =
      typeof opts.outputs === 'object'
        ? opts.outputs.map((o) => this.claim(o))
        : Array.from({ length: opts.outputs ?? 1 }, (_, i) => this.unique(`${nodeName}_out${i}`));
    const attribute = Object.entries(attrs)
      .filter((e): e is [string, AttrValue] => e[1] !== undefined)
      .map(([k, v]) => toAttribute(k, v));
    this.nodes.push({
      opType,
      name: nodeName,
      input: [...inputs],
      output: outs,
      attribute,
      domain: opts.domain ?? '',
    });
    return outs;
  }

  /** Convenience for single-output nodes. */
  op(opType: string, inputs: readonly string[], attrs: Attrs = {}, name?: string): string {
    return this.node(opType, inputs, attrs, { name })[0]!;
  }

  /** The GraphProto (for nesting or inspection). */
  toProto(): onnxProto.onnx.IGraphProto {
    if (this.outputs.length === 0) throw new Error(`ONNX graph ${this.name}: no outputs`);
    return {
      name: this.name,
      node: this.nodes,
      initializer: this.inits,
      input: this.inputs,
      output: this.outputs,
    };
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX graph ${this.name}: the name "${name}" is used twice`);
    this.used.add(name);
    return name;
  }
}

export interface SerializeOptions {
  /** Written to metadata_props (e.g. the source checksum, class names as JSON). */
  metadata?: Record<string, string>;
  producerName?: string;
  producerVersion?: string;
  docString?: string;
  modelVersion?: number;
}

/** The ModelProto of a graph at opset 17. */
export function modelProto(graph: OnnxGraph, opts: SerializeOptions = {}): onnxProto.onnx.IModelProto {
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: OPSET }],
    producerName: opts.producerName ?? 'rank1-studio',
    producerVersion: opts.producerVersion ?? '',
    docString: opts.docString ?? '',
    modelVersion: opts.modelVersion ?? 1,
    graph: graph.toProto(),
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
}

/** The model as .onnx file bytes. */
export function serializeModel(graph: OnnxGraph, opts: SerializeOptions = {}): Uint8Array {
  const proto = modelProto(graph, opts);
  const err = onnx.ModelProto.verify(proto);
  if (err) throw new Error(`ONNX model ${graph.name}: ${err}`);
  return onnx.ModelProto.encode(proto).finish();
}

/** Parses .onnx bytes (for tests and for reading metadata_props back). */
export function parseModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}

/** metadata_props of .onnx bytes as a plain record. */
export function readMetadata(bytes: Uint8Array): Record<string, string> {
  const m = parseModel(bytes);
  return Object.fromEntries(m.metadataProps.map((p) => [p.key ?? '', p.value ?? '']));
}
