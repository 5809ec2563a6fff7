# server/tests/queue_libs.rs: enqueue N jobs (and 20 that fail once, retried) with rq, run a
# burst worker against picket-server (argv: port, N), check every result. Exit 1 on failure.
# (SimpleWorker runs jobs in its own process: the default worker forks one per job, which
# costs a second of CPU per ten jobs and changes nothing the server sees.)
import sys, subprocess, os
from redis import Redis
from rq import Queue, Retry
port = int(sys.argv[1]); n = int(sys.argv[2])
r = Redis(port=port)
r.flushall()
q = Queue('default', connection=r)
jobs = [q.enqueue('rq_jobs.double', i) for i in range(n)]
flaky = [q.enqueue('rq_jobs.flaky', i, retry=Retry(max=2)) for i in range(20)]
env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
out = subprocess.run([os.path.join(os.path.dirname(sys.executable), 'rq'), 'worker', '--burst', '--worker-class', 'rq.worker.SimpleWorker', '--url', f'redis://127.0.0.1:{port}', 'default'], env=env, capture_output=True, text=True, timeout=300)
if out.returncode != 0:
    print(out.stdout[-2000:], out.stderr[-2000:]); sys.exit(1)
bad = [j.id for j, i in zip(jobs, range(n)) if j.get_status(refresh=True) != 'finished' or j.return_value() != i * 2]
badf = [j.id for j, i in zip(flaky, range(20)) if j.get_status(refresh=True) != 'finished' or j.return_value() != i + 1]
res = jobs[0].results()
print({'n': n, 'bad': len(bad), 'bad_flaky': len(badf), 'results_of_first': len(res), 'failed_registry': q.failed_job_registry.count})
sys.exit(1 if bad or badf else 0)
