// FlowTrace viewer: the call tree, a timeline, the functions table and the
// source of a trace, from the columns written by the engine
// (docs/viewer.md). Plain browser JavaScript, no library, no network.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const t_begin = performance.now();

  // ---- the data -------------------------------------------------------
  const D = JSON.parse($("ft-data").textContent);
  const SOURCES = JSON.parse($("ft-sources").textContent || "{}");
  const OPTIONS = JSON.parse($("ft-options").textContent || "{}");
  const STR = D.strings;
  const N = D.ncalls;
  const KIND = { CALL: 0, RESUME: 1, THROW: 2, RAISE: 3, RERAISE: 4, HANDLED: 5, TASK: 6 };
  const END = { RETURN: 0, RAISE: 1, YIELD: 2, UNFINISHED: 3, CLOSED: 4 };
  const FLAG = { LEFT_SUSPENDED: 1, BEGAN_BEFORE: 2, CUT: 4 };
  const i32 = (a) => Int32Array.from(a || []);
  const depth = i32(D.nodes.depth), fn = i32(D.nodes.fn), ke = i32(D.nodes.ke);
  const argsOf = i32(D.nodes.a), outOf = i32(D.nodes.r), back = i32(D.nodes.o);
  const kind = (i) => ke[i] & 7;
  const endOf = (i) => (ke[i] >> 3) & 7;
  const flags = (i) => (ke[i] >> 6) & 7;
  const timed = (i) => (ke[i] >> 9) & 1;
  const isMarker = (i) => kind(i) >= KIND.RAISE && kind(i) <= KIND.HANDLED;
  const isActivation = (i) => kind(i) <= KIND.THROW;
  const F = D.functions, T = D.threads;
  const fnName = (f) => STR[F.name[f]];
  const text = (sid1) => (sid1 > 0 ? STR[sid1 - 1] : "");
  const realClock = D.clock === "ns";
  // served in views (flowtrace view --serve on a big trace): this page holds
  // one view of the tree; a frontier node's children are in its own view
  const SERVED = OPTIONS.served || null;
  const VIEW = D.view || null;
  const ids = new Float64Array(N);
  {
    let at = 0;
    const delta = D.nodes.id;
    for (let i = 0; i < N; i++) ids[i] = delta ? (at += delta[i]) : i;
  }
  const isFrontier = (i) => (ke[i] >> 10) & 1;
  // the page's node of a trace id, or -1 when this page does not hold it
  function nodeOfId(id) {
    let lo = 0, hi = N;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ids[mid] < id) lo = mid + 1; else hi = mid; }
    return lo < N && ids[lo] === id ? lo : -1;
  }
  function viewURL(root, id, from) {
    return `?token=${encodeURIComponent(SERVED.token)}&root=${root}` + (from ? `&from=${from}` : "") +
      (id >= 0 ? `#node=${id}` : "");
  }

  // ---- derived structure: parents, subtree ends, threads, times -------
  const parent = new Int32Array(N).fill(-1);
  const stop = new Int32Array(N); // end of the subtree (exclusive)
  const nkids = new Int32Array(N);
  const below = new Float64Array(N); // activations below a node
  const threadOf = new Int32Array(N);
  const nthreads = T.name.length;
  for (let th = 0; th < nthreads; th++) {
    const stack = [];
    for (let i = T.first[th]; i < T.first[th + 1]; i++) {
      threadOf[i] = th;
      const d = depth[i];
      stack.length = d;
      if (d > 0) parent[i] = stack[d - 1];
      stack.push(i);
    }
  }
  for (let i = 0; i < N; i++) stop[i] = i + 1;
  if (D.nodes.n) for (let i = 0; i < N; i++) below[i] = D.nodes.n[i];
  for (let i = N - 1; i >= 0; i--) {
    const p = parent[i];
    if (p < 0) continue;
    nkids[p]++;
    if (stop[i] > stop[p]) stop[p] = stop[i];
    below[p] += below[i] + (isActivation(i) ? 1 : 0);
  }
  const origin = (i) => (back[i] > 0 ? i - back[i] : -1);

  // start and end of every node on the page's clock: real ns from the
  // first event, or one tick per node start, node end and marker
  const t0 = new Float64Array(N), t1 = new Float64Array(N);
  let clockEnd = 0;
  if (realClock) {
    const c0 = i32(D.nodes.t0), dur = D.nodes.d;
    const known0 = new Uint8Array(N), known1 = new Uint8Array(N);
    let at = 0;
    for (let i = 0; i < N; i++) {
      if (!timed(i)) continue;
      at += c0[i];
      t0[i] = at; known0[i] = 1;
      if (dur[i] >= 0) { t1[i] = at + dur[i]; known1[i] = 1; }
      else if (isMarker(i)) { t1[i] = at; known1[i] = 1; }
      if (t1[i] > clockEnd) clockEnd = t1[i];
    }
    let first = Infinity;
    for (let i = 0; i < N; i++) if (known0[i] && t0[i] < first) first = t0[i];
    if (!isFinite(first)) first = 0;
    // frames without their own times span their children (or the trace)
    const lo = new Float64Array(N).fill(Infinity), hi = new Float64Array(N).fill(-Infinity);
    for (let i = N - 1; i >= 0; i--) {
      if (!known0[i]) t0[i] = isFinite(lo[i]) ? lo[i] : first;
      if (!known1[i]) t1[i] = endOf(i) === END.UNFINISHED || !isFinite(hi[i]) ? Math.max(clockEnd, t0[i]) : hi[i];
      const p = parent[i];
      if (p >= 0) {
        if (t0[i] < lo[p]) lo[p] = t0[i];
        if (t1[i] > hi[p]) hi[p] = t1[i];
      }
    }
    for (let i = 0; i < N; i++) { t0[i] -= first; t1[i] -= first; }
    clockEnd -= first;
  } else {
    for (let th = 0; th < nthreads; th++) {
      let tick = 0;
      const open = [];
      for (let i = T.first[th]; i < T.first[th + 1]; i++) {
        while (open.length && open[open.length - 1] !== parent[i]) t1[open.pop()] = tick++;
        t0[i] = tick++;
        if (isMarker(i)) t1[i] = t0[i] + 1;
        else open.push(i);
      }
      while (open.length) t1[open.pop()] = tick++;
      if (tick > clockEnd) clockEnd = tick;
    }
  }

  // lanes of the timeline: one per thread, one per asyncio task
  const lanes = []; // {name, thread, task, maxDepth}
  const laneOf = new Int32Array(N), laneDepth = new Int32Array(N);
  for (let th = 0; th < nthreads; th++) {
    if (T.first[th] === T.first[th + 1]) continue;
    const base = lanes.length;
    lanes.push({ name: STR[T.name[th]], thread: th, task: -1, maxDepth: 0 });
    for (let i = T.first[th]; i < T.first[th + 1]; i++) {
      const p = parent[i];
      if (kind(i) === KIND.TASK) {
        laneOf[i] = lanes.length;
        laneDepth[i] = -1;
        lanes.push({ name: text(argsOf[i]) || "task", thread: th, task: i, maxDepth: 0 });
        continue;
      }
      laneOf[i] = p < 0 ? base : laneOf[p];
      laneDepth[i] = p < 0 ? 0 : laneDepth[p] + 1;
      const L = lanes[laneOf[i]];
      if (laneDepth[i] > L.maxDepth) L.maxDepth = laneDepth[i];
    }
  }
  const threadsWithNodes = [];
  for (let th = 0; th < nthreads; th++) if (T.first[th] < T.first[th + 1] || T.dropped[th] > 0) threadsWithNodes.push(th);

  // ---- one line of the tree, as the text tree writes it ---------------
  // PAGE: in a view of a call with more children than one page holds, a
  // line that opens the previous (i = -1) or the next (i = 1) page of them
  const ROW = { OPEN: 0, LEAF: 1, CLOSE: 2, CUT: 3, HEADER: 4, DROPPED: 5, PAGE: 6 };
  const G = { call: "→", resume: "▶", close: "←", raise: "↯", yield: "⏸", header: "──",
    raised: "⚡ raise", reraised: "⟳ re-raise", caught: "✓ caught", closed: "⏹ closed", task: "◆ task" };
  function seconds(i) { return (t1[i] - t0[i]) / 1e9; }
  function durationOf(i) { return realClock && timed(i) && D.nodes.d[i] >= 0 ? D.nodes.d[i] : -1; }

  // [class, text] pieces of the line of node i (or of a thread header)
  function segments(i, type) {
    const s = [];
    const sp = () => s.push(["", " "]);
    if (type === ROW.HEADER) return [["hdr", `${G.header} thread ${STR[T.name[i]]} ${G.header}`]];
    if (type === ROW.DROPPED) return [["", `⋯ ${T.dropped[i]} earlier events not kept (max_events)`]];
    if (type === ROW.PAGE) {
      const n = i < 0 ? VIEW.from : VIEW.siblings - VIEW.from - VIEW.shown;
      const what = `${n.toLocaleString("en")} ${i < 0 ? "earlier" : "more"} call${n === 1 ? "" : "s"} here`;
      return [["m", `⋯ ${what} (${i < 0 ? "previous" : "next"} page: click)`]];
    }
    const k = kind(i), e = endOf(i), fl = flags(i);
    if (isMarker(i)) {
      s.push([k === KIND.HANDLED ? "m" : "x", k === KIND.RAISE ? G.raised : k === KIND.RERAISE ? G.reraised : G.caught]);
      sp(); s.push(["x", text(outOf[i])]);
      return s;
    }
    if (k === KIND.TASK) {
      s.push(["m", G.task]); sp(); s.push(["n", text(argsOf[i])]);
      if (outOf[i] > 0) { s.push(["", " (from "]); s.push(["n", text(outOf[i])]); s.push(["", ")"]); }
      if (type === ROW.CUT && below[i] > 0) { sp(); s.push(["m", plural(below[i])]); }
      return s;
    }
    let prefix, pc = "m";
    if (type !== ROW.OPEN && e === END.RAISE) { prefix = G.raise; pc = "x"; }
    else if (type === ROW.CLOSE) prefix = G.close;
    else prefix = k === KIND.CALL ? G.call : G.resume;
    const body = isBody(fn[i]);
    s.push([pc, prefix]); sp(); s.push(["n", fnName(fn[i])]);
    if (!body) {
      s.push(["", "("]);
      if (argsOf[i] > 0) s.push(["a", text(argsOf[i])]);
      s.push(["", ")"]);
    }
    const before = fl & FLAG.CUT ? "(began before the kept events)" : "(began before tracing)";
    if (type === ROW.OPEN && fl & FLAG.BEGAN_BEFORE) { sp(); s.push(["m", before]); }
    if (type !== ROW.OPEN) {
      const hasOutcome = e !== END.RETURN || (outOf[i] > 0 && !body);
      const d = durationOf(i);
      const timedEnd = d >= 0 && e !== END.UNFINISHED;
      if (!body && argsOf[i] === 0 && (hasOutcome || timedEnd)) sp();
      if (timedEnd) { sp(); s.push(["t", `[${(d / 1e9).toFixed(6)}s]`]); }
      if (e === END.RETURN) {
        if (outOf[i] > 0 && !body) { sp(); s.push(["m", G.call]); sp(); s.push(["r", text(outOf[i])]); }
      } else if (e === END.YIELD) {
        sp(); s.push(["m", G.yield]);
        if (outOf[i] > 0) { sp(); s.push(["r", text(outOf[i])]); }
        if (fl & FLAG.LEFT_SUSPENDED) { sp(); s.push(["m", "(left suspended)"]); }
      } else if (e === END.CLOSED) { sp(); s.push(["m", G.closed]); }
      else if (e === END.RAISE) { sp(); s.push(["x", text(outOf[i])]); }
      else { sp(); s.push(["m", "(unfinished)"]); }
      if (type === ROW.LEAF && fl & FLAG.BEGAN_BEFORE) { sp(); s.push(["m", before]); }
    }
    if (type === ROW.CUT && below[i] > 0) { sp(); s.push(["m", plural(below[i])]); }
    return s;
  }
  // a module's or a class's body ("<module pkg.mod>", "class Account"): the
  // text tree's rule (tree/model.c): no argument slot, no "→ None"
  const bodyCache = new Map();
  function isBody(f) {
    let b = bodyCache.get(f);
    if (b === undefined) {
      const name = fnName(f) || "";
      b = /^<module( .*)?>$/.test(name) || /^class ./.test(name);
      bodyCache.set(f, b);
    }
    return b;
  }
  const plural = (n) => `(+${n} call${n === 1 ? "" : "s"})`;
  const plainLine = (i, type) => segments(i, type).map((p) => p[1]).join("");

  // ---- the rows of the tree view ---------------------------------------
  const expanded = new Uint8Array(N);
  let focus = -1;       // the node whose subtree is shown, -1: everything
  let laneFilter = -1;  // index in lanes (a thread or a task), -1: all
  let rowNode = [], rowType = [], rowDepth = [];
  let sel = -1, selRow = -1;

  function pushRow(i, type, d) { rowNode.push(i); rowType.push(type); rowDepth.push(d); }

  // rows of nodes [a, b) of one thread, depth counted from `base`
  function rowsOf(a, b, base) {
    const open = [];
    let i = a;
    while (i < b) {
      while (open.length && i >= stop[open[open.length - 1]]) {
        const o = open.pop();
        if (kind(o) !== KIND.TASK) pushRow(o, ROW.CLOSE, depth[o] - base);
      }
      const d = depth[i] - base;
      if (isFrontier(i)) { pushRow(i, ROW.CUT, d); i++; continue; }
      if (isMarker(i) || nkids[i] === 0) { pushRow(i, ROW.LEAF, d); i++; continue; }
      if (expanded[i]) {
        pushRow(i, ROW.OPEN, d);
        open.push(i);
        i++;
      } else {
        pushRow(i, ROW.CUT, d);
        i = stop[i];
      }
    }
    while (open.length) {
      const o = open.pop();
      if (kind(o) !== KIND.TASK) pushRow(o, ROW.CLOSE, depth[o] - base);
    }
  }

  function rebuildRows() {
    rowNode = []; rowType = []; rowDepth = [];
    if (focus >= 0) {
      rowsOf(focus, stop[focus], depth[focus]);
    } else {
      const shown = threadsWithNodes.filter((th) => laneFilter < 0 || lanes[laneFilter].thread === th);
      // thread headers as the text tree has them: when more than one thread is shown
      const headers = shown.filter((th) => T.first[th] < T.first[th + 1]).length > 1;
      for (const th of shown) {
        if (headers) pushRow(th, ROW.HEADER, 0);
        if (T.dropped[th] > 0) pushRow(th, ROW.DROPPED, 0);
        rowsOf(T.first[th], T.first[th + 1], 0);
      }
      addPageRows();
    }
    $("tree-sizer").style.height = `${rowNode.length * rowH}px`;
    selRow = rowOfNode(sel);
    renderRows();
    renderCrumbs();
  }
  // a view holding one page of its root's children (or of the top level)
  function addPageRows() {
    if (!VIEW || VIEW.shown >= VIEW.siblings || rowNode.length === 0) return;
    const under = VIEW.root >= 0;
    if (under && rowType[0] !== ROW.OPEN) return; // the root is collapsed
    const at = under ? 1 : 0, end = under ? rowNode.length - 1 : rowNode.length;
    const d = under ? 1 : 0;
    if (VIEW.from + VIEW.shown < VIEW.siblings) {
      rowNode.splice(end, 0, 1); rowType.splice(end, 0, ROW.PAGE); rowDepth.splice(end, 0, d);
    }
    if (VIEW.from > 0) {
      rowNode.splice(at, 0, -1); rowType.splice(at, 0, ROW.PAGE); rowDepth.splice(at, 0, d);
    }
  }
  function rowOfNode(i) {
    if (i < 0) return -1;
    for (let r = 0; r < rowNode.length; r++) if (rowNode[r] === i && rowType[r] < ROW.HEADER && rowType[r] !== ROW.CLOSE) return r;
    return -1;
  }

  // first expansion: everything when small, else level by level to a screenful
  function initialExpansion() {
    if (N <= 20000) { expanded.fill(1); return; }
    let rows = 0;
    for (let d = 0; d < 64 && rows < 300; d++) {
      for (let i = 0; i < N && rows < 300; i++) {
        if (depth[i] === d && nkids[i] > 0) { expanded[i] = 1; rows += nkids[i] + 1; }
      }
    }
  }

  const tree = $("tree"), treeRows = $("tree-rows");
  const rowH = 20;
  function renderRows() {
    const top = tree.scrollTop, h = tree.clientHeight || 600;
    const r0 = Math.max(0, Math.floor(top / rowH) - 20);
    const r1 = Math.min(rowNode.length, Math.ceil((top + h) / rowH) + 20);
    treeRows.style.transform = `translateY(${r0 * rowH}px)`;
    const frag = document.createDocumentFragment();
    for (let r = r0; r < r1; r++) frag.appendChild(rowElement(r));
    treeRows.replaceChildren(frag);
  }
  function rowElement(r) {
    const i = rowNode[r], type = rowType[r];
    const div = document.createElement("div");
    div.className = "row";
    div.dataset.row = r;
    if (type === ROW.PAGE) { div.classList.add("page"); div.dataset.page = i; }
    if (type < ROW.HEADER) {
      div.dataset.node = i;
      div.setAttribute("role", "treeitem");
      if (r === selRow) { div.classList.add("sel"); div.setAttribute("aria-selected", "true"); }
      else if (matchSet && matchSet[i]) div.classList.add("match");
      else if (!isMarker(i) && endOf(i) === END.RAISE && type !== ROW.OPEN) div.classList.add("exc");
      else if (kind(i) === KIND.RAISE) div.classList.add("exc");
    }
    const tw = document.createElement("span");
    tw.className = "tw";
    if (type < ROW.HEADER && !isMarker(i) && (nkids[i] > 0 || isFrontier(i)) && type !== ROW.CLOSE) {
      tw.textContent = type === ROW.CUT ? "▸" : "▾";
      div.setAttribute("aria-expanded", type === ROW.CUT ? "false" : "true");
    }
    div.appendChild(tw);
    const line = document.createElement("span");
    line.className = "line";
    line.appendChild(document.createTextNode("  ".repeat(rowDepth[r])));
    for (const [cls, t] of segments(i, type)) {
      if (!cls) { line.appendChild(document.createTextNode(t)); continue; }
      const sp = document.createElement("span");
      sp.className = cls;
      sp.textContent = t;
      line.appendChild(sp);
    }
    div.appendChild(line);
    return div;
  }
  tree.addEventListener("scroll", () => requestAnimationFrame(renderRows));
  window.addEventListener("resize", () => { renderRows(); drawTimeline(); });
  treeRows.addEventListener("click", (ev) => {
    const page = ev.target.closest(".row.page");
    if (page) {
      const step = +page.dataset.page * VIEW.shown;
      location.href = viewURL(VIEW.root, -1, Math.max(0, VIEW.from + step));
      return;
    }
    const div = ev.target.closest(".row");
    if (!div || div.dataset.node === undefined) return;
    const r = +div.dataset.row;
    if (ev.target.classList.contains("tw")) toggle(rowNode[r]);
    selectRow(r);
  });
  treeRows.addEventListener("dblclick", (ev) => {
    const div = ev.target.closest(".row");
    if (div && div.dataset.node !== undefined) toggle(+div.dataset.node);
  });

  function toggle(i, value) {
    if (i >= 0 && isFrontier(i) && value !== 0) { location.href = viewURL(ids[i], ids[i]); return; }
    if (i < 0 || isMarker(i) || nkids[i] === 0) return;
    expanded[i] = value === undefined ? 1 - expanded[i] : value;
    rebuildRows();
  }
  function setSubtree(i, value) {
    for (let j = i; j < stop[i]; j++) expanded[j] = value;
    rebuildRows();
  }

  // ---- selection, details, source --------------------------------------
  function selectRow(r, scroll) {
    if (r < 0 || r >= rowNode.length || rowType[r] >= ROW.HEADER) return;
    selRow = r;
    select(rowNode[r], false);
    if (scroll) scrollToRow(r);
  }
  function scrollToRow(r) {
    const top = r * rowH, h = tree.clientHeight;
    if (top < tree.scrollTop || top + rowH > tree.scrollTop + h) tree.scrollTop = Math.max(0, top - h / 3);
  }
  // select node i; `reveal`: expand its ancestors and scroll to it
  let selections = 0; // calls selected so far (a search's list that comes later does not replace one)
  function select(i, reveal) {
    sel = i;
    selections++;
    if (reveal) {
      if (focus >= 0 && !(i >= focus && i < stop[focus])) focus = -1;
      if (laneFilter >= 0 && focus < 0 && lanes[laneFilter].thread !== threadOf[i]) { laneFilter = -1; $("lane-filter").value = "-1"; }
      for (let p = parent[i]; p >= 0; p = parent[p]) expanded[p] = 1;
      rebuildRows();
      selRow = rowOfNode(i);
      scrollToRow(selRow);
    }
    renderRows();
    showDetails(i);
    try {
      history.replaceState(null, "", location.search + `#node=${ids[i]}`);
    } catch (e) {
      // a sandboxed frame (a notebook's output) has no history of its own
    }
    showInTimeline(i);
  }
  // the selected call on the timeline: zoomed to when off screen or too
  // narrow to see, its lane scrolled into view
  function showInTimeline(i) {
    const W = canvas.clientWidth || 1;
    if (kind(i) !== KIND.TASK) {
      const px = ((t1[i] - t0[i]) * W) / (view1 - view0);
      if (t1[i] < view0 || t0[i] > view1 || px < 3) {
        const span = Math.max(t1[i] - t0[i], 1);
        view0 = Math.max(0, t0[i] - span * 0.25);
        view1 = t1[i] + span * 0.25;
      }
      const y = laneTop[laneOf[i]] + Math.max(0, laneDepth[i]) * laneRowH;
      const H = canvas.clientHeight || 1;
      if (y - laneScroll < laneGap || y - laneScroll + laneRowH > H) laneScroll = Math.max(0, y - H / 3);
    }
    drawTimeline();
  }

  function link(label, target) {
    const a = document.createElement("a");
    a.textContent = label;
    a.dataset.goto = target;
    return a;
  }
  function where(i) {
    const f = fn[i], file = STR[F.file[f]] || "?";
    return `${file}:${F.line[f]}`;
  }
  function showDetails(i) {
    const box = $("details");
    box.replaceChildren();
    if (i < 0) return;
    const h = document.createElement("h2");
    h.textContent = plainLine(i, isMarker(i) || nkids[i] === 0 ? ROW.LEAF : ROW.CUT);
    box.appendChild(h);
    const dl = document.createElement("dl");
    const add = (k, v) => {
      const dt = document.createElement("dt"); dt.textContent = k;
      const dd = document.createElement("dd");
      if (typeof v === "string") dd.textContent = v; else dd.append(...v);
      dl.append(dt, dd);
    };
    const f = fn[i], k = kind(i);
    add("function", `${fnName(f)}  (${STR[F.module[f]] ?? "?"})`);
    add("defined at", where(i));
    const th = threadOf[i];
    add("thread", STR[T.name[th]] + (lanes[laneOf[i]].task >= 0 ? ` · task ${lanes[laneOf[i]].name}` : ""));
    add("kind", ["call", "resumed", "resumed by throw()", "raise", "re-raise", "caught", "asyncio task"][k]);
    if (argsOf[i] > 0 && text(argsOf[i])) add(k === KIND.TASK ? "task" : "arguments", text(argsOf[i]));
    if (isMarker(i) || endOf(i) === END.RAISE) add("exception", text(outOf[i]));
    else if (outOf[i] > 0 && !(isBody(f) && endOf(i) === END.RETURN)) {
      // a module's or class's body returns None: said nowhere, as in the tree
      add(k === KIND.TASK ? "created by" : endOf(i) === END.YIELD ? "yielded" : "returned", text(outOf[i]));
    }
    if (durationOf(i) >= 0) add("duration", `${(durationOf(i) / 1e9).toFixed(6)} s`);
    if (nkids[i] > 0) add("below", `${below[i]} call${below[i] === 1 ? "" : "s"} (${nkids[i]} direct)`);
    const links = [];
    if (parent[i] >= 0) links.push(link("caller", parent[i]));
    const o = origin(i);
    if (k === KIND.RESUME || k === KIND.THROW) {
      if (o >= 0) links.push(link("first call of this generator", o));
      const nx = nextResume(o >= 0 ? o : i, i);
      if (nx >= 0) links.push(link("next resumption", nx));
    } else if (k === KIND.CALL) {
      const nx = nextResume(i, i);
      if (nx >= 0) links.push(link("resumed later", nx));
    }
    if (endOf(i) === END.RAISE || k === KIND.RAISE || k === KIND.RERAISE) {
      const r = raisedAt(i);
      if (r !== i) links.push(link("where it was raised", r));
      const c = caughtAt(i);
      if (c >= 0) links.push(link("where it was caught", c));
    }
    if (nkids[i] > 0) links.push(link("focus on this call", `focus:${i}`));
    if (isFrontier(i)) links.push(link(`open its ${below[i]} calls`, `view:${ids[i]}`));
    if (links.length) {
      const parts = [];
      links.forEach((a, n) => { if (n) parts.push(" · "); parts.push(a); });
      add("go to", parts);
    }
    box.appendChild(dl);
    showSource(f);
  }
  $("details").addEventListener("click", (ev) => {
    const a = ev.target.closest("a[data-goto]");
    if (!a) return;
    const g = a.dataset.goto;
    if (g.startsWith("focus:")) setFocus(+g.slice(6));
    else if (g.startsWith("view:")) location.href = viewURL(+g.slice(5), +g.slice(5));
    else if (g.startsWith("id:")) {
      const [, id, view] = g.split(":").map(Number);
      if (nodeOfId(id) >= 0) select(nodeOfId(id), true);
      else location.href = viewURL(view, id);
    }
    else select(+g, true);
  });
  function nextResume(first, after) {
    for (let j = after + 1; j < N; j++) if (back[j] > 0 && j - back[j] === first) return j;
    return -1;
  }
  // the frame an exception was raised in: follow the calls that ended by it
  function raisedAt(i) {
    let cur = i;
    if (isMarker(cur)) return cur;
    for (;;) {
      let found = -1;
      for (let c = cur + 1; c < stop[cur]; c = stop[c]) {
        if (kind(c) === KIND.RAISE || kind(c) === KIND.RERAISE || (isActivation(c) && endOf(c) === END.RAISE)) found = c;
      }
      if (found < 0 || isMarker(found)) return found < 0 ? cur : found;
      cur = found;
    }
  }
  // the frame that caught it: up through the calls that ended by it
  function caughtAt(i) {
    let cur = i;
    for (;;) {
      const p = parent[cur];
      if (p < 0) return -1;
      for (let c = stop[cur]; c < stop[p]; c = stop[c]) if (kind(c) === KIND.HANDLED) return c;
      if (!(isActivation(p) && endOf(p) === END.RAISE)) return -1;
      cur = p;
    }
  }

  let shownFile = null;
  function showSource(f) {
    const box = $("source");
    const file = STR[F.file[f]];
    const src = file !== undefined ? SOURCES[file] : undefined;
    if (src === undefined) {
      shownFile = null;
      box.replaceChildren();
      const p = document.createElement("p");
      p.className = "hint src-line";
      p.textContent = file ? `No source for ${file}` : "No source";
      box.appendChild(p);
      return;
    }
    if (shownFile !== file) {
      shownFile = file;
      const frag = document.createDocumentFragment();
      const head = document.createElement("div");
      head.className = "src-file"; head.textContent = file;
      frag.appendChild(head);
      src.split("\n").forEach((line, n) => {
        const div = document.createElement("div");
        div.className = "src-line";
        const ln = document.createElement("span");
        ln.className = "ln"; ln.textContent = String(n + 1);
        div.append(ln, document.createTextNode(line));
        frag.appendChild(div);
      });
      box.replaceChildren(frag);
    }
    box.querySelectorAll(".src-line.first").forEach((e) => e.classList.remove("first"));
    const line = box.children[F.line[f]];
    if (line) {
      line.classList.add("first");
      box.scrollTop = Math.max(0, line.offsetTop - box.clientHeight / 3);
    }
  }

  // ---- focus (breadcrumbs) and the lane filter -------------------------
  function setFocus(i) {
    focus = i;
    if (i >= 0) expanded[i] = 1;
    rebuildRows();
    tree.scrollTop = 0;
    if (sel >= 0) { selRow = rowOfNode(sel); renderRows(); }
  }
  function renderCrumbs() {
    const nav = $("crumbs");
    nav.replaceChildren();
    const all = document.createElement("a");
    all.textContent = "all";
    all.dataset.focus = -1;
    if (VIEW) {
      // the calls this view is in, then its own root: each opens its view
      all.dataset.view = -1;
      nav.appendChild(all);
      const chain = VIEW.path.map((id, k) => [id, VIEW.path_fn[k] >= 0 ? fnName(VIEW.path_fn[k]) : "task"]);
      if (VIEW.root >= 0 && N > 0) chain.push([VIEW.root, kind(0) === KIND.TASK ? `task ${text(argsOf[0])}` : fnName(fn[0])]);
      for (const [id, name] of chain) {
        const s = document.createElement("span");
        s.className = "sep"; s.textContent = "›";
        const a = document.createElement("a");
        a.textContent = name; a.dataset.view = id;
        nav.append(s, a);
      }
      if (VIEW.shown < VIEW.siblings) {
        // the page of the root's children this view holds, and the others
        const s = document.createElement("span");
        s.className = "sep"; s.textContent = "|";
        const span = document.createElement("span");
        span.textContent = `calls ${(VIEW.from + 1).toLocaleString("en")}-${(VIEW.from + VIEW.shown).toLocaleString("en")} of ${VIEW.siblings.toLocaleString("en")} `;
        nav.append(s, span);
        for (const [label, dir, ok] of [["‹ previous", -1, VIEW.from > 0], ["next ›", 1, VIEW.from + VIEW.shown < VIEW.siblings]]) {
          if (!ok) continue;
          const a = document.createElement("a");
          a.textContent = label + " ";
          a.dataset.page = dir;
          nav.appendChild(a);
        }
      }
      if (focus < 0) return;
      const s = document.createElement("span");
      s.className = "sep"; s.textContent = "|";
      const a = document.createElement("a");
      a.textContent = "this view"; a.dataset.focus = -1;
      nav.append(s, a);
    } else {
      nav.appendChild(all);
    }
    if (focus < 0) return;
    const chain = [];
    for (let p = focus; p >= 0; p = parent[p]) chain.unshift(p);
    for (const p of chain) {
      const s = document.createElement("span");
      s.className = "sep"; s.textContent = "›";
      const a = document.createElement("a");
      a.textContent = kind(p) === KIND.TASK ? `task ${text(argsOf[p])}` : fnName(fn[p]);
      a.dataset.focus = p;
      nav.append(s, a);
    }
  }
  $("crumbs").addEventListener("click", (ev) => {
    const pg = ev.target.closest("a[data-page]");
    if (pg) { location.href = viewURL(VIEW.root, -1, Math.max(0, VIEW.from + +pg.dataset.page * VIEW.shown)); return; }
    const v = ev.target.closest("a[data-view]");
    if (v) { location.href = viewURL(+v.dataset.view, -1); return; }
    const a = ev.target.closest("a[data-focus]");
    if (a) setFocus(+a.dataset.focus);
  });
  function fillLaneFilter() {
    const s = $("lane-filter");
    const opt = (v, label) => { const o = document.createElement("option"); o.value = v; o.textContent = label; s.appendChild(o); };
    opt(-1, lanes.length > 1 ? `All threads and tasks (${lanes.length})` : "All");
    lanes.forEach((L, n) => opt(n, L.task >= 0 ? `  task ${L.name}` : `thread ${L.name}`));
    s.hidden = lanes.length < 2;
  }
  $("lane-filter").addEventListener("change", (ev) => {
    laneFilter = +ev.target.value;
    if (laneFilter >= 0 && lanes[laneFilter].task >= 0) { setFocus(lanes[laneFilter].task); return; }
    focus = -1;
    rebuildRows();
  });

  // ---- search ----------------------------------------------------------
  let searched = "";
  let matches = [], matchSet = null, matchAt = -1; // matchSet: a flag per node
  function runSearch(q) {
    q = q.trim().toLowerCase();
    matches = []; matchSet = null; matchAt = -1;
    searched = q;
    if (q) {
      const hit = new Uint8Array(STR.length);
      for (let s = 0; s < STR.length; s++) if (STR[s].toLowerCase().includes(q)) hit[s] = 1;
      for (let i = 0; i < N; i++) {
        if ((!isMarker(i) && kind(i) !== KIND.TASK && hit[F.name[fn[i]]]) ||
            (argsOf[i] > 0 && hit[argsOf[i] - 1]) || (outOf[i] > 0 && hit[outOf[i] - 1])) matches.push(i);
      }
      matchSet = new Uint8Array(N);
      for (const m of matches) matchSet[m] = 1;
      if (SERVED) searchServer(q);
    }
    serverTotal = -1;
    showCount();
    renderRows();
    drawTimeline();
  }
  function showCount() {
    const q = $("search").value.trim();
    const here = !q ? "" : matches.length === 0 ? "no match" :
      `${matchAt >= 0 ? matchAt + 1 : "–"} of ${matches.length}`;
    $("search-count").textContent = here + (q && SERVED ? ` here · ${serverTotal < 0 ? "…" : serverTotal} in all` : "");
  }
  // served in views: the whole trace is searched by the engine; the
  // matches are listed, each opening the view around it
  let serverTotal = -1;
  async function ask(q, count) {
    try {
      const r = await fetch(`api/search?token=${encodeURIComponent(SERVED.token)}&q=${encodeURIComponent(q)}&count=${count}`);
      return await r.json();
    } catch (e) {
      return null; // the server stopped: the page still works on what it holds
    }
  }
  // first the matches to list (the scan stops at the first 200), then how
  // many there are in all (a scan of the whole trace)
  // (the details show the list unless a call was selected meanwhile, as
  // Enter does: the user's step wins over an answer that comes later)
  async function searchServer(q) {
    const before = selections;
    const res = await ask(q, 0);
    if (res === null || searched !== q) return; // a newer search was asked for
    if (res.total !== null) serverTotal = res.total;
    showCount();
    if (selections === before) listServerMatches(res);
    if (res.total === null) {
      const all = await ask(q, 1);
      if (all === null || searched !== q) return;
      serverTotal = all.total;
      showCount();
      if (selections === before) listServerMatches(all);
    }
  }
  function listServerMatches(res) {
    const box = $("details");
    box.replaceChildren();
    const h = document.createElement("h2");
    h.textContent = res.total === null
      ? `the first ${res.matches.length} matches in the whole trace (counting all…)`
      : `${res.total.toLocaleString("en")} match${res.total === 1 ? "" : "es"} in the whole trace` +
        (res.total > res.matches.length ? ` (the first ${res.matches.length})` : "");
    box.appendChild(h);
    for (const m of res.matches) {
      const div = document.createElement("div");
      div.appendChild(link(m.text, `id:${m.id}:${m.view}`));
      box.appendChild(div);
    }
  }
  function step(dir) {
    if (!matches.length) return;
    if (matchAt < 0) {
      // from the selection onwards
      // the first match after the selection (dir > 0) or the last before it
      let lo = 0, hi = matches.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (matches[mid] <= sel) lo = mid + 1; else hi = mid; }
      matchAt = dir > 0 ? lo : (lo > 0 && matches[lo - 1] === sel ? lo - 2 : lo - 1);
      if (matchAt < 0 || matchAt >= matches.length) matchAt = dir > 0 ? 0 : matches.length - 1;
    } else {
      matchAt = (matchAt + dir + matches.length) % matches.length;
    }
    showCount();
    select(matches[matchAt], true);
  }
  let searchTimer = 0;
  $("search").addEventListener("input", (ev) => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => runSearch(ev.target.value), N > 100000 ? 250 : 60);
  });
  $("search").addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      clearTimeout(searchTimer);
      if (searched !== ev.target.value.trim().toLowerCase()) runSearch(ev.target.value);
      step(ev.shiftKey ? -1 : 1);
      ev.preventDefault();
    } else if (ev.key === "Escape") {
      ev.target.blur(); tree.focus();
    }
  });
  $("search-next").addEventListener("click", () => step(1));
  $("search-prev").addEventListener("click", () => step(-1));

  // ---- keyboard --------------------------------------------------------
  document.addEventListener("keydown", (ev) => {
    if (ev.target instanceof HTMLInputElement || ev.target instanceof HTMLSelectElement) return;
    if (ev.key === "/") { $("search").focus(); $("search").select(); ev.preventDefault(); return; }
    if ($("tree-pane").hidden) return;
    const i = sel;
    const move = (r) => { if (r >= 0 && r < rowNode.length) { let rr = r; while (rr >= 0 && rr < rowNode.length && rowType[rr] >= ROW.HEADER) rr += r >= selRow ? 1 : -1; selectRow(rr, true); } };
    switch (ev.key) {
      case "ArrowDown": move(selRow < 0 ? 0 : selRow + 1); break;
      case "ArrowUp": move(selRow - 1); break;
      case "PageDown": move(Math.min(rowNode.length - 1, selRow + Math.floor(tree.clientHeight / rowH))); break;
      case "PageUp": move(Math.max(0, selRow - Math.floor(tree.clientHeight / rowH))); break;
      case "Home": move(0); break;
      case "End": move(rowNode.length - 1); break;
      case "ArrowRight":
        if (i < 0) break;
        if (nkids[i] > 0 && !expanded[i]) toggle(i, 1);
        else if (nkids[i] > 0) move(selRow + 1);
        break;
      case "ArrowLeft":
        if (i < 0) break;
        if (nkids[i] > 0 && expanded[i] && rowType[selRow] !== ROW.CLOSE) toggle(i, 0);
        else if (parent[i] >= 0) select(parent[i], true);
        break;
      case "Enter": if (i >= 0) toggle(i); break;
      case "*": if (i >= 0) setSubtree(i, 1); break;
      case "f": if (i >= 0 && nkids[i] > 0) setFocus(i); break;
      default: return;
    }
    ev.preventDefault();
  });
  $("expand-all").addEventListener("click", () => { expanded.fill(1); rebuildRows(); });
  $("collapse-all").addEventListener("click", () => { expanded.fill(0); rebuildRows(); });

  // ---- functions table -------------------------------------------------
  let fnRows = null, fnSort = { key: "calls", dir: -1 };
  const FN_COLS = [["name", "function"], ["module", "module"], ["calls", "calls"], ["resumes", "resumes"],
    ["raised", "raised"], ["total", "total (s)"], ["self", "self (s)"]];
  function computeStats() {
    const nf = F.name.length;
    const rows = [];
    for (let f = 0; f < nf; f++) rows.push({ f, name: fnName(f), module: STR[F.module[f]] ?? "", calls: 0, resumes: 0, raised: 0, total: 0, self: 0, first: -1 });
    const active = new Int32Array(nf);
    for (let th = 0; th < nthreads; th++) {
      const open = [];
      for (let i = T.first[th]; i < T.first[th + 1]; i++) {
        while (open.length && open[open.length - 1] !== parent[i]) { const o = open.pop(); if (isActivation(o)) active[fn[o]]--; }
        open.push(i);
        if (!isActivation(i)) continue;
        const R = rows[fn[i]];
        if (R.first < 0) R.first = i;
        if (kind(i) === KIND.CALL) R.calls++; else R.resumes++;
        if (endOf(i) === END.RAISE) R.raised++;
        const d = durationOf(i);
        if (d >= 0) {
          if (active[fn[i]] === 0) R.total += d;
          R.self += d;
          let p = parent[i];
          if (p >= 0 && kind(p) === KIND.TASK) p = parent[p];
          if (p >= 0 && isActivation(p)) rows[fn[p]].self -= d;
        }
        active[fn[i]]++;
      }
    }
    return rows.filter((R) => R.first >= 0);
  }
  function renderFunctions() {
    if (!fnRows && SERVED) {
      // the whole trace's, from the engine (this page holds one view)
      fnRows = SERVED.stats.map((r, k) => ({ f: -1, name: r[0], module: r[1] ?? "", calls: r[2], resumes: r[3],
        raised: r[4], total: r[5] === null ? 0 : r[5] * 1e9, self: r[6] === null ? 0 : r[6] * 1e9, first: k }));
    }
    if (!fnRows) fnRows = computeStats();
    const table = $("functions");
    const head = document.createElement("tr");
    for (const [key, label] of FN_COLS) {
      if ((key === "total" || key === "self") && !realClock) continue;
      const th = document.createElement("th");
      th.textContent = label; th.dataset.key = key;
      if (fnSort.key === key) th.setAttribute("aria-sort", fnSort.dir > 0 ? "ascending" : "descending");
      head.appendChild(th);
    }
    table.tHead.replaceChildren(head);
    const k = fnSort.key, dir = fnSort.dir;
    const sorted = [...fnRows].sort((a, b) => (a[k] < b[k] ? -dir : a[k] > b[k] ? dir : a.first - b.first));
    const frag = document.createDocumentFragment();
    for (const R of sorted.slice(0, 5000)) {
      const tr = document.createElement("tr");
      tr.dataset.f = R.f;
      for (const [key] of FN_COLS) {
        if ((key === "total" || key === "self") && !realClock) continue;
        const td = document.createElement("td");
        const v = R[key];
        td.textContent = key === "total" || key === "self" ? (v / 1e9).toFixed(6) : String(v);
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    table.tBodies[0].replaceChildren(frag);
  }
  $("functions").addEventListener("click", (ev) => {
    const th = ev.target.closest("th");
    if (th) {
      const key = th.dataset.key;
      fnSort = { key, dir: fnSort.key === key ? -fnSort.dir : key === "name" || key === "module" ? 1 : -1 };
      renderFunctions();
      return;
    }
    const tr = ev.target.closest("tr[data-f]");
    if (!tr) return;
    $("functions").querySelectorAll("tr.sel").forEach((e) => e.classList.remove("sel"));
    tr.classList.add("sel");
    listCalls(+tr.dataset.f);
  });
  function listCalls(f) {
    const box = $("fn-calls");
    if (f < 0) {
      box.replaceChildren();
      const head = document.createElement("div");
      head.className = "hint";
      head.textContent = "Served in views: search for the function (/) to find its calls in the whole trace.";
      box.appendChild(head);
      return;
    }
    const frag = document.createDocumentFragment();
    let n = 0, total = 0;
    for (let i = 0; i < N; i++) {
      if (fn[i] !== f || !isActivation(i)) continue;
      total++;
      if (n++ >= 1000) continue;
      const div = document.createElement("div");
      div.dataset.node = i;
      div.textContent = plainLine(i, nkids[i] > 0 ? ROW.CUT : ROW.LEAF);
      frag.appendChild(div);
    }
    const head = document.createElement("div");
    head.className = "hint";
    head.textContent = `${total} activation${total === 1 ? "" : "s"} of ${fnName(f)}${total > 1000 ? " (the first 1000 listed)" : ""}`;
    box.replaceChildren(head, frag);
  }
  $("fn-calls").addEventListener("click", (ev) => {
    const div = ev.target.closest("div[data-node]");
    if (!div) return;
    showTab("tree");
    select(+div.dataset.node, true);
  });
  function showTab(name) {
    $("tree-pane").hidden = name !== "tree";
    $("functions-pane").hidden = name !== "functions";
    $("tab-tree").setAttribute("aria-selected", String(name === "tree"));
    $("tab-functions").setAttribute("aria-selected", String(name === "functions"));
    if (name === "functions") renderFunctions(); else renderRows();
  }
  $("tab-tree").addEventListener("click", () => showTab("tree"));
  $("tab-functions").addEventListener("click", () => showTab("functions"));

  // ---- timeline (flame chart) ------------------------------------------
  const canvas = $("timeline"), ctx = canvas.getContext("2d");
  const laneRowH = 16, laneGap = 18;
  let view0 = 0, view1 = Math.max(clockEnd, 1), laneScroll = 0;
  const laneTop = [];
  function layoutLanes() {
    let y = 0;
    lanes.forEach((L, n) => { laneTop[n] = y + laneGap; y += laneGap + (L.maxDepth + 1) * laneRowH; });
    return y;
  }
  const lanesHeight = layoutLanes();
  const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  const PALETTE_LIGHT = ["#a6cee3", "#b2df8a", "#fdbf6f", "#cab2d6", "#ffff99", "#8dd3c7", "#bebada", "#fccde5", "#d9d9d9", "#ccebc5"];
  const PALETTE_DARK = ["#31576e", "#3e6630", "#7a5520", "#5b4a6b", "#6b6b2e", "#2d6660", "#4e4a6e", "#6e4a5c", "#4a4a4a", "#46664a"];
  const dark = matchMedia("(prefers-color-scheme: dark)");
  function drawTimeline() {
    const dpr = window.devicePixelRatio || 1;
    const W = canvas.clientWidth, H = canvas.clientHeight;
    if (!W || !H) return;
    if (canvas.width !== Math.round(W * dpr) || canvas.height !== Math.round(H * dpr)) {
      canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    }
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    const pal = dark.matches ? PALETTE_DARK : PALETTE_LIGHT;
    const fg = css("--fg"), exc = css("--exc"), selc = css("--mark"), muted = css("--muted");
    const scale = W / (view1 - view0);
    ctx.font = "11px " + css("--mono");
    ctx.textBaseline = "middle";
    lanes.forEach((L, n) => {
      const y = laneTop[n] - laneScroll;
      if (y - laneGap > H || y + (L.maxDepth + 1) * laneRowH < 0) return;
      ctx.fillStyle = muted;
      ctx.fillText(`${L.task >= 0 ? "task" : "thread"} ${L.name}`, 4, y - laneGap / 2);
    });
    const lastX = new Float64Array(lanes.length * 256).fill(-1);
    for (const th of threadsWithNodes) {
      let i = T.first[th];
      const last = T.first[th + 1];
      while (i < last) {
        if (kind(i) === KIND.TASK) { i++; continue; }
        const x0 = (t0[i] - view0) * scale, x1 = (t1[i] - view0) * scale;
        if (x1 < 0 || x0 > W) { i = stop[i]; continue; }
        const y = laneTop[laneOf[i]] + laneDepth[i] * laneRowH - laneScroll;
        if (y > H || y + laneRowH < 0) { i++; continue; }
        if (isMarker(i)) {
          if (kind(i) !== KIND.HANDLED) { ctx.fillStyle = exc; ctx.fillRect(Math.floor(x0), y + 2, 2, laneRowH - 4); }
          i++; continue;
        }
        const w = x1 - x0;
        const slot = laneOf[i] * 256 + Math.min(laneDepth[i], 255);
        if (w < 1) {
          // narrower than a pixel: one sliver for the subtree, once per pixel
          const px = Math.floor(x0);
          if (lastX[slot] !== px) { ctx.fillStyle = pal[fn[i] % pal.length]; ctx.fillRect(px, y, 1, laneRowH - 1); lastX[slot] = px; }
          i = stop[i]; continue;
        }
        const hit = matchSet && matchSet[i];
        ctx.fillStyle = hit ? css("--match") : pal[fn[i] % pal.length];
        const bx = Math.max(x0, -2), bw = Math.min(x1, W + 2) - bx;
        ctx.fillRect(bx, y, bw, laneRowH - 1);
        if (endOf(i) === END.RAISE) { ctx.strokeStyle = exc; ctx.lineWidth = 1.5; ctx.strokeRect(bx + 0.75, y + 0.75, bw - 1.5, laneRowH - 2.5); }
        if (i === sel) { ctx.strokeStyle = selc; ctx.lineWidth = 2; ctx.strokeRect(bx + 1, y + 1, bw - 2, laneRowH - 3); }
        if (bw > 30) {
          ctx.fillStyle = fg;
          ctx.save(); ctx.beginPath(); ctx.rect(bx, y, bw, laneRowH); ctx.clip();
          ctx.fillText(fnName(fn[i]), Math.max(bx, 0) + 3, y + laneRowH / 2);
          ctx.restore();
        }
        i++;
      }
    }
  }
  // the node drawn at (x, y), or -1
  function nodeAt(x, y) {
    const W = canvas.clientWidth, scale = W / (view1 - view0);
    const t = view0 + x / scale;
    let lane = -1;
    for (let n = 0; n < lanes.length; n++) {
      const top = laneTop[n] - laneScroll;
      if (y >= top && y < top + (lanes[n].maxDepth + 1) * laneRowH) lane = n;
    }
    if (lane < 0) return -1;
    const d = Math.floor((y - (laneTop[lane] - laneScroll)) / laneRowH);
    const th = lanes[lane].thread;
    const slack = 2 / scale;
    let i = lanes[lane].task >= 0 ? lanes[lane].task + 1 : T.first[th];
    const last = lanes[lane].task >= 0 ? stop[lanes[lane].task] : T.first[th + 1];
    while (i < last) {
      if (t1[i] + slack < t || t0[i] - slack > t) { i = stop[i]; continue; }
      if (laneOf[i] === lane && laneDepth[i] === d && kind(i) !== KIND.TASK) return i;
      i++;
    }
    return -1;
  }
  let drag = null;
  canvas.addEventListener("mousedown", (ev) => { drag = { x: ev.offsetX, y: ev.offsetY, v0: view0, v1: view1, s: laneScroll, moved: false }; canvas.classList.add("dragging"); });
  window.addEventListener("mouseup", (ev) => {
    if (!drag) return;
    canvas.classList.remove("dragging");
    const d = drag; drag = null;
    if (!d.moved && ev.target === canvas) {
      const i = nodeAt(ev.offsetX, ev.offsetY);
      if (i >= 0) { showTab("tree"); select(i, true); }
    }
  });
  canvas.addEventListener("mousemove", (ev) => {
    if (drag) {
      const dx = ev.offsetX - drag.x, dy = ev.offsetY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) drag.moved = true;
      const per = (drag.v1 - drag.v0) / canvas.clientWidth;
      view0 = drag.v0 - dx * per; view1 = drag.v1 - dx * per;
      laneScroll = Math.max(0, Math.min(Math.max(0, lanesHeight - canvas.clientHeight + laneGap), drag.s - dy));
      requestAnimationFrame(drawTimeline);
      return;
    }
    const i = nodeAt(ev.offsetX, ev.offsetY);
    const tip = $("tip");
    if (i < 0) { tip.hidden = true; return; }
    tip.hidden = false;
    tip.textContent = plainLine(i, nkids[i] > 0 ? ROW.CUT : ROW.LEAF) + `\n${where(i)}`;
    tip.style.left = `${Math.min(ev.offsetX + 12, canvas.clientWidth - 300)}px`;
    tip.style.top = `${ev.offsetY + 40}px`;
  });
  canvas.addEventListener("mouseleave", () => { $("tip").hidden = true; });
  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    if (ev.shiftKey) {
      laneScroll = Math.max(0, Math.min(Math.max(0, lanesHeight - canvas.clientHeight + laneGap), laneScroll + ev.deltaY));
    } else {
      const f = Math.exp(ev.deltaY * 0.002);
      const at = view0 + (ev.offsetX / canvas.clientWidth) * (view1 - view0);
      view0 = at - (at - view0) * f; view1 = at + (view1 - at) * f;
      if (view1 - view0 < 1e-3) view1 = view0 + 1e-3;
    }
    requestAnimationFrame(drawTimeline);
  }, { passive: false });
  $("zoom-fit").addEventListener("click", () => { view0 = 0; view1 = Math.max(clockEnd, 1); laneScroll = 0; drawTimeline(); });
  dark.addEventListener("change", drawTimeline);

  // ---- start -----------------------------------------------------------
  // calls as `flowtrace run` counts them (a generator's resumptions apart)
  let nacts = 0, nresumes = 0;
  for (let i = 0; i < N; i++) {
    if (kind(i) === KIND.CALL) nacts++;
    else if (isActivation(i)) nresumes++;
  }
  const calls = (n) => `${n.toLocaleString("en")} call${n === 1 ? "" : "s"}`;
  $("summary").textContent = (SERVED ? `${SERVED.nodes.toLocaleString("en")} nodes in the trace, this view holds ${calls(nacts)}` +
    (VIEW && VIEW.shown < VIEW.siblings ? ` (calls ${(VIEW.from + 1).toLocaleString("en")}-${(VIEW.from + VIEW.shown).toLocaleString("en")} of ${VIEW.siblings.toLocaleString("en")} ${VIEW.root >= 0 ? "under it" : "at the top"})` : "") + " · "
    : `${calls(nacts)} · `) +
    (nresumes ? `${nresumes.toLocaleString("en")} resumption${nresumes === 1 ? "" : "s"} · ` : "") +
    `${F.name.length} function${F.name.length === 1 ? "" : "s"} · ${threadsWithNodes.length} thread${threadsWithNodes.length === 1 ? "" : "s"}` +
    (OPTIONS.title ? ` · ${OPTIONS.title}` : "");
  $("clock-note").textContent = realClock
    ? "Timeline: real time (recorded with timing)."
    : "Timeline: no timing was recorded, so the clock is the order of events (one step per call, return and exception); run with --timing for real durations.";
  fillLaneFilter();
  initialExpansion();
  rebuildRows();
  const m = /^#node=(\d+)$/.exec(location.hash);
  if (m && nodeOfId(+m[1]) >= 0) select(nodeOfId(+m[1]), true);
  drawTimeline();
  window.addEventListener("hashchange", () => {
    const h = /^#node=(\d+)$/.exec(location.hash);
    if (h && nodeOfId(+h[1]) >= 0 && nodeOfId(+h[1]) !== sel) select(nodeOfId(+h[1]), true);
  });
  // what the tests and the bench read (the page itself does not use it)
  window.flowtraceViewer = {
    ready: true,
    loadMs: performance.now() - t_begin,
    nodes: N,
    lines: () => rowNode.map((i, r) => "  ".repeat(rowDepth[r]) + plainLine(i, rowType[r])),
  };
  document.body.dataset.ready = "1";
})();
