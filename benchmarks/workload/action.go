package workload

// ActionCode is the Node.js action every function of a plan runs. Parameters:
// ms (run time when it gets the CPU it asks for), mb (memory to touch and hold)
// and cpu (busy fraction of one core). It answers {ms, mb, cpu, cpuMs, wallMs}:
// what it was asked and what it got (CPU milliseconds spent, wall time taken).
const ActionCode = `function main(p) {
  const ms = Math.max(0, Number(p.ms) || 0), mb = Math.max(0, Number(p.mb) || 0);
  const cpu = Math.min(1, Math.max(0, Number(p.cpu) || 0));
  const t0 = Date.now(), c0 = process.cpuUsage();
  let hold = null;
  if (mb > 0) hold = Buffer.alloc(Math.floor(mb * 1048576), 1);
  const used = () => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1000; };
  const work = ms * cpu;
  let sink = 0;
  return new Promise((resolve) => {
    const done = () => {
      const out = { ms: ms, mb: mb, cpu: cpu, cpuMs: Math.round(used()), wallMs: Date.now() - t0, held: hold ? hold.length : 0 };
      hold = null;
      resolve(out);
    };
    const step = () => {
      let u = used();
      const goal = Math.min(work, u + 5);
      while (u < goal) {
        for (let i = 0; i < 2000; i++) sink += Math.sqrt(i + sink % 7);
        u = used();
      }
      const elapsed = Date.now() - t0;
      if (u >= work) {
        setTimeout(done, Math.max(0, ms - elapsed));
        return;
      }
      setTimeout(step, Math.max(0, u / cpu - elapsed));
    };
    if (work <= 0) setTimeout(done, ms); else step();
  });
}
`

// Params are the parameters of one invocation of ActionCode.
func (inv Invocation) Params() map[string]any {
	return map[string]any{"ms": inv.RunMS, "mb": inv.MB, "cpu": inv.CPU}
}
