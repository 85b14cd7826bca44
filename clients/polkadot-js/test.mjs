// A dApp's path through upow with the standard client, @polkadot/api, and no
// custom types (only the `upow_*` RPC definitions of ../upow-rpc):
//
//   * blocks show their real author (`api.derive.chain.getHeader().author`);
//   * Bob posts a job, waits for finality, reads the JobPosted event, the job
//     over `api.rpc.upow.job` and over the runtime API `api.call.upowApi.job`;
//   * a spec outside the limits fails with a module error naming the field
//     (`jobs.ModelWidth`), an unlisted workload with `jobs.NotListed` until
//     governance (sudo Alice) lists it, a cancel by someone else with
//     `jobs.NotPoster`;
//   * Bob cancels: the JobCancelled refund, fees and deposit account for his
//     free balance to the last unit.
//
// Run against a dev node that mines (`upow-node --dev --tmp --mine`):
//   UPOW_WS=ws://127.0.0.1:9944 node test.mjs
// Exits 0 when every check passes; prints what failed otherwise.

import assert from 'node:assert/strict';
import { ApiPromise, Keyring, WsProvider } from '@polkadot/api';
import { u8aToHex } from '@polkadot/util';
import { rpc } from '@upow/rpc';

const url = process.env.UPOW_WS ?? 'ws://127.0.0.1:9944';
const timeoutMs = Number(process.env.UPOW_JS_TIMEOUT_MS ?? 240_000);

const log = (...args) => console.log('[polkadot-js]', ...args);

/** Signs and sends `tx`; resolves with the block's events of the extrinsic once it is finalized (or in a block, `until: 'inBlock'`). */
function send(api, tx, signer, until = 'finalized') {
  return new Promise((resolve, reject) => {
    let unsubscribe = () => {};
    tx.signAndSend(signer, ({ status, events, dispatchError }) => {
      const done = until === 'finalized' ? status.isFinalized : status.isInBlock || status.isFinalized;
      if (status.isDropped || status.isInvalid || status.isUsurped) {
        unsubscribe();
        reject(new Error(`transaction ${status.type}`));
      } else if (done) {
        unsubscribe();
        const block = status.isFinalized ? status.asFinalized : status.asInBlock;
        resolve({ block, events, dispatchError });
      }
    })
      .then((u) => {
        unsubscribe = u;
      })
      .catch(reject);
  });
}

/** The `section.name` of a failed dispatch's error. */
function errorName(api, dispatchError) {
  assert.ok(dispatchError, 'the call was expected to fail');
  assert.ok(dispatchError.isModule, `expected a module error, got ${dispatchError.toString()}`);
  const meta = api.registry.findMetaError(dispatchError.asModule);
  return `${meta.section}.${meta.name}`;
}

function event(events, section, method) {
  const found = events.find(({ event: e }) => e.section === section && e.method === method);
  assert.ok(found, `no ${section}.${method} event among ${events.map(({ event: e }) => `${e.section}.${e.method}`).join(', ')}`);
  return found.event;
}

async function feePaid(events) {
  return event(events, 'transactionPayment', 'TransactionFeePaid').data.actualFee.toBigInt();
}

async function main() {
  const api = await ApiPromise.create({ provider: new WsProvider(url), rpc, throwOnConnect: true, noInitWarn: true });
  const keyring = new Keyring({ type: 'sr25519', ss58Format: api.registry.chainSS58 ?? 42 });
  const alice = keyring.addFromUri('//Alice');
  const bob = keyring.addFromUri('//Bob');
  const charlie = keyring.addFromUri('//Charlie');
  log(`connected to ${(await api.rpc.system.chain()).toString()}, runtime ${api.runtimeVersion.specName} v${api.runtimeVersion.specVersion}`);

  // --- every mined block shows its real author (the node mines as Alice).
  let header = await api.rpc.chain.getHeader();
  while (header.number.toNumber() < 1) {
    await new Promise((r) => setTimeout(r, 500));
    header = await api.rpc.chain.getHeader();
  }
  const derived = await api.derive.chain.getHeader(header.hash);
  assert.ok(derived.author, 'derive.chain.getHeader found no author');
  assert.equal(u8aToHex(derived.author.toU8a()), u8aToHex(alice.publicKey), 'block author');
  log(`block #${header.number} author ${derived.author.toString()} (Alice)`);

  // --- the house job over the upow RPC: its dataset for our spec.
  const house = (await api.rpc.upow.job(0)).toJSON();
  assert.equal(house.id, 0);
  const open = (await api.rpc.upow.openJobs()).map((job) => job.toJSON());
  const houseOpen = open.find((j) => j.job === 0);
  assert.ok(houseOpen, 'the house job is open');
  const dataset = { root: house.datasetRoot, samples: houseOpen.datasetSamples, inputs: house.model[0] };
  const spec = (dims) => ({ model: { dims }, hyper: { batchLog2: 6, lrShift: 2, totalSteps: 100_000 }, dataset });

  const price = api.consts.jobs.minPricePerStep.toBigInt() * 10n;
  const budget = price * 1_000_000n;
  // The job deposit: the record's, and every byte of the dataset that each
  // node stores (label + inputs per sample), at the chain's price per byte.
  const datasetBytes = BigInt(dataset.samples) * (1n + BigInt(dataset.inputs));
  const deposit = api.consts.jobs.jobDeposit.toBigInt()
    + api.consts.jobs.datasetDepositPerByte.toBigInt() * datasetBytes;

  // --- a spec outside the limits: a module error that names the field.
  const wide = await send(api, api.tx.jobs.postJob(spec([784, 2000, 10]), price, budget, null), bob, 'inBlock');
  assert.equal(errorName(api, wide.dispatchError), 'jobs.ModelWidth');
  log('a 2000-wide layer is refused with jobs.ModelWidth');

  // --- an unlisted workload is refused; governance (sudo Alice) lists it.
  const mine = spec([784, 32, 10]);
  const unlisted = await send(api, api.tx.jobs.postJob(mine, price, budget, null), bob, 'inBlock');
  assert.equal(errorName(api, unlisted.dispatchError), 'jobs.NotListed');
  const cost = 65_536; // the house job's cost: this job's blocks are as hard
  const maxLabel = 9; // Fashion-MNIST's labels: the ten classes of the model
  const minNonzero = 512; // non-zero compute weights every proven step needs, in 1024ths of a layer: the degeneracy rule's own
  const minLive = 32; // live units every proven step needs, in 1024ths of a layer: the degeneracy rule's own
  const minActive = 0; // non-zero activations every proven step needs, in 1024ths of B · width: none, the rule's own
  const listed = await send(api, api.tx.sudo.sudo(api.tx.jobs.listWorkload(mine, cost, maxLabel, minNonzero, minLive, minActive)), alice, 'inBlock');
  event(listed.events, 'sudo', 'Sudid');
  const workloadListed = event(listed.events, 'jobs', 'WorkloadListed');
  assert.equal(workloadListed.data.cost.toNumber(), cost);
  log(`an unlisted spec is refused with jobs.NotListed; listed as workload ${workloadListed.data.workload} at cost ${cost}`);

  // --- Bob posts a job and waits for finality.
  const before = (await api.query.system.account(bob.address)).data.free.toBigInt();
  const posted = await send(api, api.tx.jobs.postJob(mine, price, budget, null), bob);
  assert.equal(posted.dispatchError, undefined, `post_job failed: ${posted.dispatchError}`);
  const jobPosted = event(posted.events, 'jobs', 'JobPosted');
  const id = jobPosted.data.job.toNumber();
  assert.equal(jobPosted.data.budget.toBigInt(), budget);
  assert.equal(jobPosted.data.deposit.toBigInt(), deposit);
  const finalized = await api.rpc.chain.getFinalizedHead();
  const postedNumber = (await api.rpc.chain.getHeader(posted.block)).number.toNumber();
  const finalizedNumber = (await api.rpc.chain.getHeader(finalized)).number.toNumber();
  assert.ok(finalizedNumber >= postedNumber, 'the post is finalized');
  log(`job ${id} posted in finalized block #${postedNumber}`);

  // --- its status, over RPC and over the runtime API from the metadata.
  const status = (await api.rpc.upow.job(id)).toJSON();
  assert.equal(status.poster, u8aToHex(bob.publicKey));
  assert.deepEqual(status.model, [784, 32, 10]);
  assert.ok(['Open', 'Settling'].includes(status.status), `status ${status.status}`);
  const info = await api.call.upowApi.job(id);
  assert.ok(info.isSome, 'api.call.upowApi.job found the job');
  assert.equal(info.unwrap().spec.model.dims.map((d) => d.toNumber()).join(','), '784,32,10');
  log(`job ${id}: ${status.status}, ${status.steps} steps, budget left ${BigInt(status.budgetLeft)}`);

  // --- someone else cannot cancel it.
  const stranger = await send(api, api.tx.jobs.cancelJob(id), charlie, 'inBlock');
  assert.equal(errorName(api, stranger.dispatchError), 'jobs.NotPoster');
  log('a cancel by Charlie is refused with jobs.NotPoster');

  // --- Bob cancels: every unit of his balance is accounted for.
  const cancelled = await send(api, api.tx.jobs.cancelJob(id), bob);
  assert.equal(cancelled.dispatchError, undefined, `cancel_job failed: ${cancelled.dispatchError}`);
  const jobCancelled = event(cancelled.events, 'jobs', 'JobCancelled');
  assert.equal(jobCancelled.data.job.toNumber(), id);
  const refund = jobCancelled.data.refund.toBigInt();
  const after = (await api.query.system.account(bob.address)).data.free.toBigInt();
  const fees = (await feePaid(posted.events)) + (await feePaid(cancelled.events));
  // What the chain kept: the deposit (until reaped) and the payments reserved
  // for blocks that trained the job before the cancel (paid when they settle).
  const reserved = budget - refund;
  assert.equal(after, before - fees - deposit - reserved, 'free balance after the cancel');
  const ended = (await api.rpc.upow.job(id)).toJSON();
  assert.equal(ended.status, 'Cancelled');
  // Reserved payments stay held until their blocks settle (some may have by now).
  assert.ok(BigInt(ended.pendingPayment) <= reserved, 'pending payments are the reserved ones');
  log(`job ${id} cancelled: refund ${refund} (reserved for mined blocks ${reserved}), balance checks out`);

  await api.disconnect();
  log('ok');
}

const timer = setTimeout(() => {
  console.error(`[polkadot-js] timed out after ${timeoutMs} ms`);
  process.exit(2);
}, timeoutMs);

main()
  .then(() => {
    clearTimeout(timer);
    process.exit(0);
  })
  .catch((e) => {
    console.error('[polkadot-js] FAILED:', e);
    process.exit(1);
  });
