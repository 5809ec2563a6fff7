"""Runs the redis-py snippet of docs/guide.md (argv[1]) as a program, then checks the claim
of its comment: `master` re-resolves after a failover. Protocol with
sentinel/tests/guide_snippets.rs: print SNIPPET-DONE, wait for `go` on stdin (the test has
failed the deployment over by then), write with the same `master` object (retrying while
the client notices), print FOLLOWED, or NOT FOLLOWED and exit 1 at the deadline."""
import runpy
import sys
import time

names = runpy.run_path(sys.argv[1], run_name="__main__")
master = names["master"]
print("SNIPPET-DONE", flush=True)
if sys.stdin.readline().strip() != "go":
    sys.exit("expected `go` on stdin")
deadline = time.time() + float(sys.argv[2] if len(sys.argv) > 2 else 60)
while True:
    try:
        master.set("followed:python", "after-failover")
        break
    except Exception as e:  # ConnectionError, ReadOnlyError, TimeoutError while it moves
        if time.time() > deadline:
            print("NOT FOLLOWED: %r" % e, flush=True)
            sys.exit(1)
        time.sleep(0.2)
print("FOLLOWED", flush=True)
