// server/tests/queue_libs.rs: a BullMQ Worker processes N jobs against picket-server (argv:
// port, N), one in ten failing once (retried with a fixed backoff), one in 25 delayed, while
// QueueEvents follows the events stream (XREAD BLOCK). Prints a JSON summary; exit 1 on any
// failure.
const { Queue, Worker, QueueEvents } = require('bullmq');
const port = parseInt(process.argv[2]);
const n = parseInt(process.argv[3] || '1000');
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
(async () => {
  const name = 'q' + Date.now();
  const queue = new Queue(name, { connection });
  const events = new QueueEvents(name, { connection });
  await events.waitUntilReady();
  let completedEvents = 0;
  events.on('completed', () => { completedEvents++; });
  const attempts = new Map();
  let done = 0;
  const t0 = Date.now();
  let timer;
  const finished = new Promise((resolve, reject) => {
    const worker = new Worker(name, async (job) => {
      const a = (attempts.get(job.id) || 0) + 1;
      attempts.set(job.id, a);
      if (job.data.i % 10 === 0 && a === 1) throw new Error('fail once');
      return job.data.i * 2;
    }, { connection, concurrency: 20 });
    worker.on('completed', async (job, result) => {
      if (result !== job.data.i * 2) reject(new Error('bad result ' + job.id));
      done++;
      if (done === n) { await worker.close(); resolve(); }
    });
    worker.on('error', (e) => reject(e));
    timer = setTimeout(() => reject(new Error(`timeout: ${done}/${n} done`)), 120000);
  });
  const jobs = [];
  for (let i = 0; i < n; i++) {
    jobs.push({ name: 'j', data: { i }, opts: { attempts: 3, backoff: { type: 'fixed', delay: 50 }, delay: i % 25 === 0 ? 200 : 0 } });
  }
  await queue.addBulk(jobs);
  await finished;
  clearTimeout(timer);
  const counts = await queue.getJobCounts('completed', 'failed', 'waiting', 'delayed', 'active');
  await new Promise((r) => setTimeout(r, 500));
  console.log(JSON.stringify({ done, counts, retried: [...attempts.values()].filter((a) => a > 1).length, completedEvents, ms: Date.now() - t0 }));
  await events.close();
  await queue.close();
  process.exit(counts.completed !== n || counts.failed !== 0 ? 1 : 0);
})().catch((e) => { console.error('FAILED', e); process.exit(1); });
