// The step graph of a definition as SVG: steps in columns by dependency depth, edges along
// dependsOn, nodes coloured by their status in a state (an execution, or the state as of event N).
// forEach steps show one dot per item, switch steps the case taken, workflow steps a link to the
// child execution (its id is `<parent>.<step path>.<attempt>`, engine/src/core/run.cc).
import { html } from './util.js';

const W = 168, H = 54, GX = 56, GY = 18;

export function layout(steps) {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const depth = new Map();
  const visit = (id, seen = new Set()) => {
    if (depth.has(id)) return depth.get(id);
    if (seen.has(id)) return 0;
    seen.add(id);
    const deps = (byId.get(id)?.dependsOn || []).filter((d) => byId.has(d));
    const d = deps.length ? 1 + Math.max(...deps.map((x) => visit(x, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  steps.forEach((s) => visit(s.id));
  const columns = [];
  for (const s of steps) (columns[depth.get(s.id)] ||= []).push(s.id);
  const pos = new Map();
  columns.forEach((col, x) => col.forEach((id, y) => pos.set(id, { x: x * (W + GX) + 8, y: y * (H + GY) + 8 })));
  const rows = Math.max(1, ...columns.map((c) => c.length));
  return { pos, width: columns.length * (W + GX) - GX + 16, height: rows * (H + GY) - GY + 16 };
}

function stepKind(step) {
  if (step.switch) return 'switch';
  if (step.forEach) return 'forEach';
  return step.type || 'step';
}

function items(state, id) {
  const out = [];
  for (const [path, s] of Object.entries(state?.steps || {})) {
    const m = /^(.+)\[(\d+)\]$/.exec(path);
    if (m && m[1] === id) out[Number(m[2])] = s.status;
  }
  return out;
}

// StepStarted's `case` is the index of the case taken (past the last: the default).
function caseName(sw, index) {
  if (typeof index === 'string' && index !== 'default') return index;  // the match value
  const c = typeof index === 'number' ? (sw.cases || [])[index] : undefined;
  if (c) return String(c.match);
  return typeof index === 'number' || index === 'default' ? 'default' : String(index);
}

export function StepGraph({ steps, state, events, executionId, onSelect }) {
  if (!steps || !steps.length) return html`<p class="muted">No steps.</p>`;
  const { pos, width, height } = layout(steps);
  const cases = new Map();
  for (const e of events || []) if (e.type === 'StepStarted' && e.data && e.data.case !== undefined) cases.set(e.step, e.data.match !== undefined ? `${e.data.match}` : e.data.case);
  const edges = [];
  for (const s of steps)
    for (const d of s.dependsOn || []) {
      const a = pos.get(d), b = pos.get(s.id);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      edges.push(html`<path class="edge" d=${`M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`} marker-end="url(#arrow)" />`);
    }
  const nodes = steps.map((s) => {
    const p = pos.get(s.id);
    const st = state?.steps?.[s.id];
    const status = st?.status || 'not_started';
    const kind = stepKind(s);
    const its = s.forEach ? items(state, s.id) : [];
    let sub = kind;
    if (s.switch) sub = cases.has(s.id) ? `switch → ${caseName(s.switch, cases.get(s.id))}` : 'switch';
    if (s.forEach) sub = its.length ? `forEach · ${its.length} items` : 'forEach';
    if (st?.attempts > 1) sub += ` · ${st.attempts} attempts`;
    const isChild = s.type === 'workflow' || (s.switch && (s.switch.cases || []).some((c) => c.type === 'workflow'));
    const child = isChild && st?.attempts && executionId ? `${executionId}.${s.id}.${st.attempts}` : null;
    const label = `step ${s.id}, ${kind}, ${status.replace('_', ' ')}`;
    return html`<g class=${`node s-${status}`} transform=${`translate(${p.x},${p.y})`} tabindex="0" role="button"
        aria-label=${label} data-step=${s.id}
        onClick=${() => onSelect && onSelect(s.id)}
        onKeyDown=${(e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); onSelect && onSelect(s.id); } }}>
      <title>${label}</title>
      <rect width=${W} height=${H} rx="8" />
      <text x="10" y="20" class="node-id">${s.id.length > 20 ? s.id.slice(0, 19) + '…' : s.id}</text>
      <text x="10" y="38" class="node-sub">${sub}</text>
      ${its.slice(0, 24).map((it, i) => html`<rect class=${`dot s-${it || 'pending'}`} x=${10 + i * 6} y="44" width="5" height="5" />`)}
      ${child && html`<a href=${`#/executions/${encodeURIComponent(child)}`} aria-label=${`child execution of ${s.id}`}>
        <text x=${W - 10} y="20" text-anchor="end" class="node-link">child ↗</text></a>`}
    </g>`;
  });
  return html`<div class="graph-wrap"><svg class="graph" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`}
      role="group" aria-label="step graph">
    <defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
      <path d="M 0 0 L 10 5 L 0 10 z" class="arrow" /></marker></defs>
    ${edges}${nodes}
  </svg></div>`;
}
