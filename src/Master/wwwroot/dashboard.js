// AiSystem operator dashboard: one SignalR connection to /hubs/dashboard; the server pushes "Snapshot" once a
// second and "LogLines" in batches. Everything here only renders what arrives; no third-party code but SignalR.
(() => {
  "use strict";

  const TOKEN_KEY = "aisystem.adminToken";
  const MAX_LOG_LINES = 1000;
  const RETRY_DELAYS_MS = [0, 1000, 2000, 5000, 10000];
  const STATE_TEXT = {
    connecting: "Connecting…",
    connected: "Live",
    reconnecting: "Reconnecting…",
    disconnected: "Disconnected",
    locked: "Needs the admin token",
  };

  // The login URL the master prints (/dashboard?token=...): keep the token for this tab, then drop it from the address bar.
  const params = new URLSearchParams(location.search);
  if (params.has("token")) {
    sessionStorage.setItem(TOKEN_KEY, params.get("token").trim());
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + location.hash);
  }

  const $ = (id) => document.getElementById(id);
  const ui = {
    state: $("connection-state"),
    tokenForm: $("token-form"),
    token: $("admin-token"),
    error: $("dispatcher-error"),
    workers: document.querySelector("#workers tbody"),
    workersEmpty: $("workers-empty"),
    members: document.querySelector("#members tbody"),
    journal: {
      panel: $("journal"),
      state: $("journal-state"),
      where: $("journal-where"),
      lastWrite: $("journal-last-write"),
      failedBatches: $("journal-failed-batches"),
      rowsWaiting: $("journal-rows-waiting"),
      rows: $("journal-rows"),
      batches: $("journal-batches"),
      snapshots: $("journal-snapshots"),
      error: $("journal-error"),
    },
    chart: $("answers-chart"),
    chartBox: $("chart"),
    log: $("log"),
    source: $("log-source"),
    text: $("log-text"),
    pause: $("log-pause"),
    levels: [...document.querySelectorAll('input[name="level"]')],
    stat: {
      workers: $("stat-workers"),
      queued: $("stat-queued"),
      inflight: $("stat-inflight"),
      rate: $("stat-rate"),
      tokens: $("stat-tokens"),
      tokensLabel: $("label-tokens"),
      latency: $("stat-latency"),
    },
  };

  let connection = null;
  let lastSeq = 0;
  let freshConnection = true;
  let lastSnapshot = null;
  let paused = false;
  let held = []; // lines that arrived while paused
  const sources = new Set();

  // ------------------------------------------------------------------ connection

  function setState(state) {
    ui.state.dataset.state = state;
    ui.state.textContent = STATE_TEXT[state];
  }

  function build() {
    const conn = new signalR.HubConnectionBuilder()
      .withUrl("hubs/dashboard", { accessTokenFactory: () => sessionStorage.getItem(TOKEN_KEY) || "" })
      .withAutomaticReconnect()
      .configureLogging(signalR.LogLevel.None)
      .build();
    conn.on("Snapshot", renderSnapshot);
    conn.on("LogLines", receiveLines);
    conn.onreconnecting(() => setState("reconnecting"));
    conn.onreconnected(() => {
      freshConnection = true;
      setState("connected");
    });
    conn.onclose(() => {
      setState("disconnected");
      start();
    });
    return conn;
  }

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const isUnauthorized = (e) => e && (e.statusCode === 401 || /\b401\b/.test(String(e.message)));

  let starting = false;
  async function start() {
    if (starting) return;
    starting = true;
    try {
      for (let attempt = 0; ; attempt++) {
        await sleep(RETRY_DELAYS_MS[Math.min(attempt, RETRY_DELAYS_MS.length - 1)]);
        setState("connecting");
        connection = connection || build();
        try {
          freshConnection = true;
          await connection.start();
          ui.tokenForm.hidden = true;
          setState("connected");
          return;
        } catch (e) {
          if (isUnauthorized(e)) {
            setState("locked");
            ui.tokenForm.hidden = false;
            ui.token.focus();
            return; // waits for the operator to enter the token
          }
          setState("disconnected");
        }
      }
    } finally {
      starting = false;
    }
  }

  ui.tokenForm.addEventListener("submit", (e) => {
    e.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, ui.token.value.trim());
    ui.token.value = "";
    start();
  });

  // ------------------------------------------------------------------ snapshot

  function text(value) {
    return value === null || value === undefined || value === "" ? "–" : String(value);
  }

  function age(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
    const m = Math.floor(seconds / 60);
    return m < 60 ? `${m} min ${Math.floor(seconds % 60)} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
  }

  function ms(value) {
    if (value === null || value === undefined) return "–";
    return value >= 1000 ? `${(value / 1000).toFixed(value >= 10000 ? 0 : 1)} s` : `${Math.round(value)} ms`;
  }

  function cell(row, label, content, className) {
    const td = document.createElement("td");
    td.dataset.label = label;
    td.textContent = content;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function renderSnapshot(s) {
    lastSnapshot = s;
    ui.error.hidden = !s.error;
    ui.error.textContent = s.error || "";

    const live = s.workers.filter((w) => w.status !== "gone");
    ui.stat.workers.textContent = String(live.length);
    ui.stat.queued.textContent = String(s.queued);
    ui.stat.inflight.textContent = String(s.inFlight);

    const rows = s.workers.map((w) => {
      const tr = document.createElement("tr");
      tr.dataset.workerId = w.id;
      tr.dataset.status = w.status;
      const name = cell(tr, "Worker", w.id, "worker-id");
      name.title = [w.language, w.version && `v${w.version}`, w.clusterAddress].filter(Boolean).join(" · ");
      const status = cell(tr, "Status", "");
      const badge = document.createElement("span");
      badge.className = `badge badge-${w.status}`;
      badge.textContent = w.status;
      status.appendChild(badge);
      cell(tr, "Slots", w.status === "gone" ? "–" : `${w.activeTasks} / ${w.capacity}`);
      cell(tr, "Current task", age(w.currentTaskAgeSeconds));
      cell(tr, "Completed", String(w.completed));
      cell(tr, "Last seen", w.status === "gone" ? "gone" : `${age(w.lastSeenSecondsAgo)} ago`);
      cell(tr, "Provider", text(w.provider));
      cell(tr, "Host", text(w.host));
      return tr;
    });
    ui.workers.replaceChildren(...rows);
    ui.workersEmpty.hidden = rows.length > 0;

    const leader = s.cluster.leader;
    ui.members.replaceChildren(...s.cluster.members.map((m) => {
      const tr = document.createElement("tr");
      tr.dataset.address = m.address;
      const addr = cell(tr, "Address", m.address, "address");
      if (m.address === leader) addr.append(" ", Object.assign(document.createElement("span"), { className: "badge", textContent: "leader" }));
      if (m.address === s.cluster.self) addr.append(" ", Object.assign(document.createElement("span"), { className: "badge", textContent: "this master" }));
      cell(tr, "Roles", m.roles.join(", "));
      cell(tr, "Status", m.status);
      cell(tr, "Reachability", m.reachability, m.reachability === "reachable" ? "" : "bad");
      return tr;
    }));

    if (s.answers) renderChart(s.answers);
    renderJournal(s.journal, s.timestamp);
  }

  // ------------------------------------------------------------------ journal (this master's)

  const JOURNAL_TEXT = {
    ok: "ok",
    recovering: "recovering",
    failing: "failing: new questions are refused",
  };

  // Ages against the snapshot's own time, so the browser's clock does not matter.
  function since(iso, now) {
    return iso ? `${age(Math.max(0, (now - Date.parse(iso)) / 1000))} ago` : "never";
  }

  function renderJournal(j, now) {
    const view = ui.journal;
    const state = j ? j.state : "unknown";
    if (view.panel.dataset.state !== state) {
      // Only on a change: the status region is announced when its text changes.
      view.panel.dataset.state = state;
      view.state.className = `badge badge-${state}`;
      view.state.textContent = j ? (JOURNAL_TEXT[state] || state) : "unknown";
    }
    view.where.textContent = j ? [j.provider, j.location].filter(Boolean).join(" · ") : "";
    view.lastWrite.textContent = j ? since(j.lastSuccessfulWrite, now) : "–";
    view.failedBatches.textContent = j ? String(j.consecutiveFailedBatches) : "–";
    view.rowsWaiting.textContent = j ? String(j.rowsWaiting) : "–";
    view.rows.textContent = j ? String(j.rowsWritten) : "–";
    view.batches.textContent = j ? String(j.batchesWritten) : "–";
    view.snapshots.textContent = j ? String(j.snapshotsWritten) : "–";
    const e = j && j.lastError;
    view.error.hidden = !e;
    view.error.textContent = e ? `Last error, ${since(e.at, now)}: ${e.type}: ${e.message}` : "";
  }

  // ------------------------------------------------------------------ chart (inline SVG, drawn here)

  const SVG = "http://www.w3.org/2000/svg";
  function el(name, attrs, textContent) {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (textContent !== undefined) node.textContent = textContent;
    return node;
  }

  /** 0, 3.2, 48, 1.2k: a rate that fits a stat tile. */
  function formatRate(value) {
    if (!(value > 0)) return "0";
    if (value >= 10000) return `${(value / 1000).toFixed(0)}k`;
    if (value >= 1000) return `${(value / 1000).toFixed(1)}k`;
    return value >= 10 ? value.toFixed(0) : value.toFixed(1);
  }

  function niceMax(value) {
    if (!(value > 0)) return 1;
    const step = Math.pow(10, Math.floor(Math.log10(value)));
    for (const m of [1, 2, 2.5, 5, 10]) if (value <= m * step) return m * step;
    return 10 * step;
  }

  function renderChart(series) {
    const buckets = series.buckets;
    const per = series.bucketSeconds;
    const width = Math.max(280, Math.round(ui.chartBox.clientWidth || 600));
    const height = 180;
    const pad = { left: 44, right: 52, top: 10, bottom: 22 };
    const w = width - pad.left - pad.right;
    const h = height - pad.top - pad.bottom;
    const n = buckets.length;
    const rate = buckets.map((b) => b.answered / per);
    const failed = buckets.map((b) => b.failed / per);
    const rateMax = niceMax(Math.max(...rate, ...failed));
    const latMax = niceMax(Math.max(0, ...buckets.map((b) => b.p95Ms || 0)));
    const x = (i) => pad.left + (i / n) * w;
    const yRate = (v) => pad.top + h - (v / rateMax) * h;
    const yLat = (v) => pad.top + h - (v / latMax) * h;

    const svg = ui.chart;
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    const nodes = [];
    for (const f of [0, 0.5, 1]) {
      const y = pad.top + h - f * h;
      nodes.push(el("line", { x1: pad.left, x2: pad.left + w, y1: y, y2: y, class: "grid-line" }));
      nodes.push(el("text", { x: pad.left - 6, y: y + 4, "text-anchor": "end", class: "axis axis-rate" }, `${+(f * rateMax).toFixed(2)}/s`));
      nodes.push(el("text", { x: pad.left + w + 6, y: y + 4, "text-anchor": "start", class: "axis axis-latency" }, ms(f * latMax)));
    }
    const bw = Math.max(1, w / n - 1);
    buckets.forEach((b, i) => {
      if (b.answered > 0) nodes.push(el("rect", { x: x(i), y: yRate(rate[i]), width: bw, height: pad.top + h - yRate(rate[i]), class: "bar-rate" }));
      if (b.failed > 0) nodes.push(el("rect", { x: x(i), y: yRate(failed[i]), width: bw, height: 3, class: "bar-failed" }));
    });
    for (const [key, cls] of [["p50Ms", "line-p50"], ["p95Ms", "line-p95"]]) {
      let d = "";
      buckets.forEach((b, i) => {
        if (b[key] === null || b[key] === undefined) return;
        d += `${d && buckets[i - 1] && buckets[i - 1][key] != null ? "L" : "M"}${(x(i) + bw / 2).toFixed(1)},${yLat(b[key]).toFixed(1)}`;
      });
      if (d) nodes.push(el("path", { d, class: cls }));
      // A dot per bucket as well: a lone bucket has no line to show.
      buckets.forEach((b, i) => {
        if (b[key] !== null && b[key] !== undefined) nodes.push(el("circle", { cx: (x(i) + bw / 2).toFixed(1), cy: yLat(b[key]).toFixed(1), r: 2.5, class: `dot-${cls}` }));
      });
    }
    nodes.push(el("text", { x: pad.left, y: height - 6, class: "axis" }, `−${Math.round((n * per) / 60)} min`));
    nodes.push(el("text", { x: pad.left + w, y: height - 6, "text-anchor": "end", class: "axis" }, "now"));
    svg.replaceChildren(...nodes);

    // The last minute, for the figures above the chart and for screen readers.
    const recent = buckets.slice(-Math.max(1, Math.round(60 / per)));
    const answered = recent.reduce((sum, b) => sum + b.answered, 0);
    const lastWithAnswers = [...buckets].reverse().find((b) => b.answered > 0);
    ui.stat.rate.textContent = (answered / (recent.length * per)).toFixed(2);
    // Tokens per second of the last complete bucket (the newest one is still filling); missing counts are 0.
    const complete = buckets.length >= 2 ? buckets[buckets.length - 2] : null;
    const tokens = complete ? (Number(complete.promptTokens) || 0) + (Number(complete.outputTokens) || 0) : 0;
    ui.stat.tokens.textContent = complete ? formatRate(tokens / per) : "–";
    ui.stat.tokens.title = complete
      ? `${Number(complete.promptTokens) || 0} prompt + ${Number(complete.outputTokens) || 0} output tokens in the ${per} s from ${new Date(complete.start).toLocaleTimeString()}`
      : "No complete bucket yet";
    ui.stat.tokensLabel.textContent = `Tokens/s (last ${per} s)`;
    ui.stat.latency.textContent = lastWithAnswers ? `${ms(lastWithAnswers.p50Ms)} / ${ms(lastWithAnswers.p95Ms)}` : "–";
    const total = buckets.reduce((sum, b) => sum + b.answered, 0);
    const totalFailed = buckets.reduce((sum, b) => sum + b.failed, 0);
    svg.setAttribute("aria-label", total + totalFailed === 0
      ? "No answers in the last 10 minutes"
      : `${total} answers and ${totalFailed} failures in the last 10 minutes; ${ui.stat.rate.textContent} answers per second over the last minute` +
        (lastWithAnswers ? `; latest latency p50 ${ms(lastWithAnswers.p50Ms)}, p95 ${ms(lastWithAnswers.p95Ms)}` : ""));
  }

  window.addEventListener("resize", () => { if (lastSnapshot && lastSnapshot.answers) renderChart(lastSnapshot.answers); });

  // ------------------------------------------------------------------ log tail

  function receiveLines(lines) {
    if (!lines.length) {
      freshConnection = false;
      return;
    }
    if (freshConnection) {
      freshConnection = false;
      // The first batch of a connection is the master's tail; numbers below ours mean another (restarted) master.
      if (lines[lines.length - 1].seq < lastSeq) {
        lastSeq = 0;
        appendLines([{ seq: 0, timestamp: Date.now(), source: "dashboard", level: "info", message: "Connected to a restarted master; its recent lines follow." }]);
      }
    }
    const fresh = lines.filter((l) => l.seq > lastSeq);
    if (!fresh.length) return;
    lastSeq = fresh[fresh.length - 1].seq;
    if (paused) {
      held.push(...fresh);
      if (held.length > MAX_LOG_LINES) held = held.slice(-MAX_LOG_LINES);
      ui.pause.textContent = `Resume (${held.length} new)`;
      return;
    }
    appendLines(fresh);
  }

  function time(ms) {
    const d = new Date(ms);
    return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
  }

  function appendLines(lines) {
    const follow = ui.log.scrollHeight - ui.log.scrollTop - ui.log.clientHeight < 40;
    const fragment = document.createDocumentFragment();
    for (const l of lines) {
      if (!sources.has(l.source)) addSource(l.source);
      const li = document.createElement("li");
      li.className = "log-line";
      li.dataset.level = l.level;
      li.dataset.source = l.source;
      if (l.taskId) li.dataset.taskId = l.taskId;
      const t = document.createElement("time");
      t.dateTime = new Date(l.timestamp).toISOString();
      t.textContent = time(l.timestamp);
      const level = Object.assign(document.createElement("span"), { className: "level", textContent: l.level });
      const source = Object.assign(document.createElement("span"), { className: "source", textContent: l.source });
      const message = Object.assign(document.createElement("span"), { className: "message", textContent: l.message });
      li.append(t, level, source, message);
      li.hidden = !matches(li);
      fragment.appendChild(li);
    }
    ui.log.appendChild(fragment);
    while (ui.log.childElementCount > MAX_LOG_LINES) ui.log.firstElementChild.remove();
    if (follow) ui.log.scrollTop = ui.log.scrollHeight;
  }

  function addSource(source) {
    sources.add(source);
    const option = document.createElement("option");
    option.value = source;
    option.textContent = source;
    const after = [...ui.source.options].slice(1).find((o) => o.value.localeCompare(source) > 0);
    ui.source.insertBefore(option, after || null);
  }

  function matches(li) {
    const levels = ui.levels.filter((c) => c.checked).map((c) => c.value);
    const source = ui.source.value;
    const needle = ui.text.value.trim().toLowerCase();
    return levels.includes(li.dataset.level)
      && (!source || li.dataset.source === source)
      && (!needle || li.textContent.toLowerCase().includes(needle));
  }

  function refilter() {
    for (const li of ui.log.children) li.hidden = !matches(li);
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  for (const c of ui.levels) c.addEventListener("change", refilter);
  ui.source.addEventListener("change", refilter);
  ui.text.addEventListener("input", refilter);
  ui.pause.addEventListener("click", () => {
    paused = !paused;
    ui.pause.setAttribute("aria-pressed", String(paused));
    ui.pause.textContent = paused ? "Resume" : "Pause";
    if (!paused && held.length) {
      const lines = held;
      held = [];
      appendLines(lines);
      ui.log.scrollTop = ui.log.scrollHeight;
    }
  });

  start();
})();
