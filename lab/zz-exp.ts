import { Lab } from "./lab";
import { runBenchmark } from "../bench/run";
const [modesArg, casesArg, reps, dur, warm, pin, out, nice] = process.argv.slice(2);
(async () => {
  const lab = Lab.open();
  try {
    const built = [];
    for (const m of modesArg.split(",")) built.push(await lab.build(m as any));
    const cases = casesArg.split(",");
    const measurements = [...new Set(cases.map((c) => c.split(".")[0]))];
    const t0 = Date.now();
    const s = await runBenchmark(built.map((b) => b.target), { outDir: out, repetitions: +reps, durationSeconds: +dur, warmupSeconds: +warm, measurements, cases, pinCpus: pin === "pin", httpConnections: 16 });
    console.log("bench seconds", (Date.now() - t0) / 1000, "errors", s.errors.length);
    const ids = [...new Set(s.stats.map((x) => x.id))];
    for (const id of ids) for (const st of s.stats.filter((x) => x.id === id)) {
      const xs = s.samples.filter((x) => x.id === id && x.target === st.target).map((x) => x.value);
      const m = xs.reduce((a, b) => a + b, 0) / xs.length; const sd = Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / (xs.length - 1));
      console.log(id.padEnd(40), st.target.padEnd(18), "median", st.stats.median.toPrecision(4), "cv%", (100 * sd / m).toFixed(1), "ci", st.stats.ci95?.low.toPrecision(4), st.stats.ci95?.high.toPrecision(4), "xs", xs.map((x) => x.toPrecision(3)).join(" "));
    }
  } finally { await lab.close(); }
})();
