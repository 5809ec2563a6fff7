// Runs the ioredis snippet of docs/guide.md (argv[2]) as a program, then checks the claim of
// its comment: the client reconnects to the new master after +switch-master. The snippet's
// own client (the one given `sentinels`; ioredis's internal connections to the sentinels are
// left alone) is kept: its disconnect() or quit() at the end marks the snippet as done
// (SNIPPET-DONE) instead of closing it. Then, as in follow.py: wait for `go` on stdin, write
// with that same client, print FOLLOWED (or NOT FOLLOWED and exit 1 at the deadline).
"use strict";
const path = require("path");
const readline = require("readline");
const Redis = require("ioredis");

const deadlineSecs = Number(process.argv[3] || 60);
const realDisconnect = Redis.prototype.disconnect;
const realQuit = Redis.prototype.quit;
let client = null;

function done(real) {
  return function (...args) {
    if (!(this.options && this.options.sentinels)) {
      return real.apply(this, args);
    }
    if (client === null) {
      client = this;
      console.log("SNIPPET-DONE");
      afterGo();
    }
    return Promise.resolve("OK");
  };
}
Redis.prototype.disconnect = done(realDisconnect);
Redis.prototype.quit = done(realQuit);

function afterGo() {
  const rl = readline.createInterface({ input: process.stdin });
  rl.once("line", async (line) => {
    rl.close();
    if (line.trim() !== "go") {
      console.log("NOT FOLLOWED: expected `go` on stdin");
      process.exit(1);
    }
    const deadline = Date.now() + deadlineSecs * 1000;
    for (;;) {
      try {
        const timeout = new Promise((_, reject) =>
          setTimeout(() => reject(new Error("no reply within 5s")), 5000).unref()
        );
        await Promise.race([client.set("followed:node", "after-failover"), timeout]);
        break;
      } catch (err) {
        if (Date.now() > deadline) {
          console.log("NOT FOLLOWED: " + err);
          process.exit(1);
        }
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    console.log("FOLLOWED");
    realDisconnect.call(client);
  });
}

require(path.resolve(process.argv[2]));
