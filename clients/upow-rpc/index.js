// Definitions of upow's `upow_*` JSON-RPC methods for @polkadot/api, so that
// they are decorated on `api.rpc.upow`:
//
//   import { ApiPromise, WsProvider } from '@polkadot/api';
//   import { rpc } from '@upow/rpc';
//   const api = await ApiPromise.create({ provider: new WsProvider(url), rpc });
//   const job = await api.rpc.upow.job(1);       // a Json codec: job.toJSON()
//
// The methods and their JSON shapes are documented in docs/rpc.md; they are
// defined once in the node (primitives/src/rpc.rs). Objects come back as
// `Json` (call `.toJSON()`), lists as `Vec<Json>`; 128-bit numbers inside
// them are 0x-hex strings.
// No custom types are needed for anything else: calls, events, errors,
// storage and the runtime API `api.call.upowApi.*` come from the metadata.

const hash = (name, isOptional = false) => ({ name, type: 'Hash', isOptional });

/** `api.rpc.upow.*`: pass as `rpc` to `ApiPromise.create`. */
export const upow = {
  getWork: {
    description: 'The work of the next block on `parent` (default: best) for `job` (default: the node\'s pick)',
    params: [hash('parent', true), { name: 'job', type: 'u64', isOptional: true }],
    type: 'Json',
  },
  openJobs: {
    description: 'Every job open at `parent` (default: best), best price first',
    params: [hash('parent', true)],
    type: 'Vec<Json>',
  },
  getWeights: {
    description: 'Weights by hash, in the puzzle\'s canonical encoding',
    params: [hash('hash')],
    type: 'Bytes',
  },
  getDataset: {
    description: 'Up to 1 MiB of a dataset\'s samples from `offset`',
    params: [hash('root'), { name: 'offset', type: 'u64' }, { name: 'count', type: 'u64' }],
    type: 'Json',
  },
  putDataset: {
    description: 'Uploads whole samples of a dataset at `offset` (resumable; stored only if they hash to `root`)',
    params: [hash('root'), { name: 'samples', type: 'u64' }, { name: 'inputs', type: 'u32' }, { name: 'offset', type: 'u64' }, { name: 'data', type: 'Bytes' }],
    type: 'Json',
  },
  datasetUpload: {
    description: 'Where the upload of `root` stands, or null',
    params: [hash('root')],
    type: 'Json',
  },
  job: {
    description: 'A job: spec, status, steps, escrow, weights',
    params: [{ name: 'id', type: 'u64' }],
    type: 'Json',
  },
  lossCurve: {
    description: 'One point per block that trained the job: { block, steps, loss }',
    params: [{ name: 'id', type: 'u64' }, { name: 'from', type: 'u32' }, { name: 'count', type: 'u32' }],
    type: 'Vec<Json>',
  },
  disputableBlocks: {
    description: 'Numbers of the blocks still in their dispute window',
    params: [],
    type: 'Vec<u32>',
  },
  disputable: {
    description: 'What a replay of a disputable block needs, or null',
    params: [{ name: 'number', type: 'u32' }],
    type: 'Json',
  },
};

/** The `rpc` option of `ApiPromise.create`. */
export const rpc = { upow };

export default rpc;
