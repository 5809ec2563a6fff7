# server/tests/queue_libs.rs: the functions rq_run.py enqueues (the worker imports them).
def double(x):
    return x * 2

def flaky(x):
    from rq import get_current_job
    job = get_current_job()
    if job.meta.get('tried') is None:
        job.meta['tried'] = 1
        job.save_meta()
        raise RuntimeError('fail once')
    return x + 1
