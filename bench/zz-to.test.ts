import { it } from "vitest";
import { connectSsh } from "./ssh";
import { publicLine, rsaPem } from "./testing/ssh-standin";
import { Sshd } from "./testing/sshd";
it("timeout timing", async () => {
    const key = rsaPem();
    const d = new Sshd(publicLine(key)); await d.start();
    const s = await connectSsh("x", { host: "127.0.0.1", port: d.port, username: "root", privateKey: key });
    const t = Date.now();
    const e = await s.run("sleep 8", { timeoutMs: 500 }).catch((e) => e);
    console.log("timeout took", Date.now() - t, String(e));
    const ac = new AbortController(); setTimeout(() => ac.abort(), 500);
    const t2 = Date.now();
    const e2 = await s.run("sleep 8", { timeoutMs: 50000, signal: ac.signal }).catch((e) => e);
    console.log("abort took", Date.now() - t2, String(e2));
    await s.close(); await d.stop();
}, 60000);
