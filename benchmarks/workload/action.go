package workload

// ActionCode is the Node.js action every function of a plan runs. Parameters:
// ms (run time when it gets the CPU it asks for), mb (memory to touch and hold,
// reached gradually over the first half of the run) and cpu (busy fraction of
// one core, spent evenly over the run). It answers {ms, mb, cpu, cpuMs, wallMs}:
// what it was asked and what it got (CPU milliseconds spent, wall time taken).
const ActionCode = `function main(p) {
  const ms = Math.max(0, Number(p.ms) || 0), mb = Math.max(0, Number(p.mb) || 0);
  const cpu = Math.min(1, Math.max(0, Number(p.cpu) || 0));
  const t0 = Date.now(), c0 = process.cpuUsage();
  const target = Math.floor(mb * 1048576), chunk = 4 << 20;
  let hold = [], held = 0, sink = 0;
  const used = () => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1000; };
  const work = ms * cpu;
  return new Promise((resolve) => {
    const tick = () => {
      const el = Date.now() - t0;
      // Memory grows to its target over the first half of the run.
      const memDue = ms > 0 ? Math.min(target, target * el / (ms / 2)) : target;
      while (held < memDue) { const n = Math.min(chunk, target - held); hold.push(Buffer.alloc(n, 1)); held += n; }
      // CPU is spent at the pace cpu × wall time, in slices of at most 5 ms.
      let u = used();
      const cpuDue = Math.min(work, cpu * Math.max(el, 1));
      const stop = Math.min(cpuDue, u + 5);
      while (u < stop) {
        for (let i = 0; i < 2000; i++) sink += Math.sqrt(i + sink % 7);
        u = used();
      }
      if (u >= work && held >= target && Date.now() - t0 >= ms) {
        const out = { ms: ms, mb: mb, cpu: cpu, cpuMs: Math.round(used()), wallMs: Date.now() - t0, held: held };
        hold = null;
        resolve(out);
        return;
      }
      setTimeout(tick, u < cpuDue ? 0 : 5);
    };
    tick();
  });
}
`

// Params are the parameters of one invocation of ActionCode.
func (inv Invocation) Params() map[string]any {
	return map[string]any{"ms": inv.RunMS, "mb": inv.MB, "cpu": inv.CPU}
}
