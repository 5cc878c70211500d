// The local pipeline view: a hash-routed page over the JSON API of sm_pipelines/ui/routes.
// No framework and no build step: DOM built with h() (text is never parsed as HTML), graphs
// laid out by mermaid.js, charts drawn by Chart.js, both vendored by `make ui-assets`.
"use strict";

const POLL_MS = 1000;
const TERMINAL = ["Succeeded", "Failed", "NotExecuted"];
const main = document.getElementById("main");
const panel = document.getElementById("panel");
let pollTimer = null;
let charts = [];
let graphCount = 0;

mermaid.initialize({ startOnLoad: false, securityLevel: "strict", flowchart: { htmlLabels: true } });

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

async function api(path, options) {
  const response = await fetch(path, options);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const detail = body.error || JSON.stringify(body.detail || body) || response.statusText;
    throw new Error(`${response.status}: ${detail}`);
  }
  return body;
}

function post(path, body) {
  return api(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body || {}),
  });
}

const badge = (status) => h("span", { class: `badge ${status}` }, status);
const link = (href, text) => h("a", { href }, text);
const json = (value) => h("pre", {}, JSON.stringify(value, null, 2));

function seconds(value) {
  if (value === null || value === undefined) return "";
  return value < 120 ? `${value.toFixed(1)} s` : `${Math.floor(value / 60)}m${String(Math.floor(value % 60)).padStart(2, "0")}s`;
}

function when(iso) {
  return iso ? iso.replace("T", " ").slice(0, 19) : "";
}

function params(values) {
  return Object.entries(values || {}).map(([k, v]) => `${k}=${v}`).join(", ");
}

function table(headers, rows) {
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))), h("tbody", {}, rows));
}

function stopPolling() {
  if (pollTimer) clearTimeout(pollTimer);
  pollTimer = null;
}

function clearCharts() {
  charts.forEach((chart) => chart.destroy());
  charts = [];
}

// replaceChildren with h()'s rules: nested arrays flattened, null/undefined/false left out.
function fill(el, ...nodes) {
  el.replaceChildren(...nodes.flat(Infinity).filter((n) => n !== null && n !== undefined && n !== false));
}

function show(...nodes) {
  fill(main, ...nodes);
}

function closePanel() {
  panel.hidden = true;
  panel.replaceChildren();
}

// --- graphs -------------------------------------------------------------------------------

// Renders the Mermaid text and tags each step's node with data-step (its name), so statuses,
// clicks and tests find steps by name whatever ids mermaid gives its elements.
async function graph(text, steps, onClick) {
  const box = h("div", { class: "graph", id: "graph" });
  const { svg } = await mermaid.render(`graph-${++graphCount}`, text);
  box.innerHTML = svg; // mermaid's own output, sanitized by it (securityLevel strict)
  const byNode = Object.fromEntries(steps.map((s) => [s.node, s]));
  for (const node of box.querySelectorAll("g.node")) {
    const id = node.dataset.id || (node.id.match(/flowchart-(.+)-\d+$/) || [])[1];
    const step = byNode[id];
    if (!step) continue;
    node.dataset.step = step.name;
    const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
    title.textContent = step.description ? `${step.name}: ${step.description}` : step.name;
    node.prepend(title);
    if (onClick) node.addEventListener("click", () => onClick(step.name));
  }
  return box;
}

function paint(box, steps) {
  for (const step of steps) {
    const node = box.querySelector(`g.node[data-step="${CSS.escape(step.name)}"]`);
    if (!node) continue;
    node.dataset.status = step.status;
    node.dataset.cached = step.cache_source ? "true" : "false";
  }
}

// --- pipelines ------------------------------------------------------------------------------

async function pipelinesPage() {
  const data = await api("/api/pipelines");
  const cards = data.pipelines.map((p) =>
    h("div", { class: "card" },
      h("h3", {}, link(`#/pipelines/${encodeURIComponent(p.name)}`, p.display_name || p.name)),
      h("div", { class: "muted" }, p.name),
      h("p", {}, p.description),
      h("div", { class: "muted" }, `${p.steps} steps · ${p.parameters} parameters · ${p.triggers} triggers`)));
  show(
    h("h1", {}, `Pipelines (${data.env})`),
    data.definitions_problem ? h("p", { class: "error" }, data.definitions_problem) : null,
    cards.length ? h("div", { class: "cards" }, cards) : h("p", { class: "muted" }, "No compiled pipelines: run `sm-pipelines build`."));
}

function runForm(pipeline, parameters, values) {
  const inputs = parameters.map((p) =>
    [h("label", { for: `param-${p.name}`, title: p.description }, `${p.name} (${p.type})`),
     h("input", { id: `param-${p.name}`, name: p.name, value: values[p.name] ?? p.default ?? "", title: p.description })]);
  const message = h("div", { id: "run-message", class: "muted" });
  const button = h("button", { class: "primary", type: "submit", id: "run-button" }, "Start run");
  const form = h("form", { class: "params", id: "run-form" }, inputs, h("span"), h("div", { class: "row" }, button, message));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    for (const p of parameters) {
      const value = form.elements[p.name].value;
      if (String(value) !== String(p.default ?? "")) body[p.name] = value;
    }
    button.disabled = true;
    message.textContent = "starting…";
    try {
      const action = await post(`/api/pipelines/${encodeURIComponent(pipeline)}/runs`, { parameters: body });
      await followAction(action, message);
    } catch (error) {
      message.textContent = error.message;
      message.className = "error";
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

// Polls a started command until its execution record exists (then opens it) or it ends.
async function followAction(action, message) {
  for (;;) {
    if (action.execution) {
      location.hash = `#/executions/${action.execution}`;
      return;
    }
    if (!action.running) {
      message.className = action.exit_code === 0 ? "muted" : "error";
      message.textContent = `exit ${action.exit_code}: ${action.output.split("\n").slice(-3).join(" ")}`;
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    action = await api(`/api/actions/${action.id}`);
  }
}

async function pipelinePage(name) {
  const p = await api(`/api/pipelines/${encodeURIComponent(name)}`);
  const box = await graph(p.graph, p.step_list, null);
  const runs = await api(`/api/executions?pipeline=${encodeURIComponent(name)}`);
  show(
    h("h1", {}, p.display_name, " ", h("span", { class: "muted" }, `(${p.name}, ${p.env})`)),
    h("p", {}, p.description),
    box,
    h("h2", {}, "Steps"),
    table(["step", "display name", "type", "description"], p.step_list.map((s) =>
      h("tr", { "data-step": s.name }, h("td", {}, h("code", {}, s.name)), h("td", {}, s.display_name), h("td", {}, s.type), h("td", {}, s.description)))),
    h("h2", {}, "Parameters and a new run"),
    table(["name", "type", "default", "description"], p.parameter_list.map((x) =>
      h("tr", {}, h("td", {}, h("code", {}, x.name)), h("td", {}, x.type), h("td", {}, h("code", {}, String(x.default ?? ""))), h("td", {}, x.description)))),
    runForm(p.name, p.parameter_list, {}),
    h("h2", {}, "Triggers"),
    p.trigger_list.length ? table(["name", "kind", "what", "parameters", "description"], p.trigger_list.map((t) =>
      h("tr", {}, h("td", {}, t.name), h("td", {}, t.kind), h("td", {}, h("code", {}, t.expression || t.prefix || t.detail_type || t.statuses?.join(", ") || "")),
        h("td", {}, params(t.parameters)), h("td", {}, t.description, t.enabled === false ? " (disabled)" : "")))) : h("p", { class: "muted" }, "none"),
    h("h2", {}, "Alert routes"),
    p.alert_routes.length ? table(["name", "event", "statuses", "topic", "description"], p.alert_routes.map((r) =>
      h("tr", {}, h("td", {}, r.name), h("td", {}, r.event), h("td", {}, (r.statuses || []).join(", ") || r.detail_type || ""), h("td", {}, r.topic), h("td", {}, r.description)))) : h("p", { class: "muted" }, "none"),
    h("h2", {}, "Executions"),
    executionsTable(runs.executions));
}

// --- executions -----------------------------------------------------------------------------

function executionsTable(executions) {
  if (!executions.length) return h("p", { class: "muted" }, "No executions yet.");
  return table(["execution", "pipeline", "status", "start", "duration", "source", "parameters"], executions.map((e) =>
    h("tr", { class: "clickable", "data-execution": e.id, onclick: () => { location.hash = `#/executions/${e.id}`; } },
      h("td", {}, link(`#/executions/${e.id}`, e.id)), h("td", {}, e.pipeline), h("td", {}, badge(e.status)),
      h("td", {}, when(e.start)), h("td", {}, seconds(e.seconds)), h("td", {}, e.source), h("td", {}, h("code", {}, params(e.parameters))))));
}

async function executionsPage() {
  const data = await api("/api/executions");
  show(h("h1", {}, "Executions"), executionsTable(data.executions));
  if (data.executions.some((e) => !TERMINAL.includes(e.status))) pollTimer = setTimeout(route, POLL_MS * 2);
}

function stepRows(execution, openStep) {
  return execution.steps.map((s) =>
    h("tr", { class: "clickable", "data-step": s.name, onclick: () => openStep(s.name) },
      h("td", {}, h("code", {}, s.name)), h("td", {}, s.display_name), h("td", {}, s.type), h("td", {}, badge(s.status)),
      h("td", {}, seconds(s.seconds)), h("td", {}, s.attempts || ""),
      h("td", {}, s.cache_source ? ["cache hit from ", link(`#/executions/${s.cache_source}`, s.cache_source)] : (s.failure_reason || "").slice(0, 160))));
}

async function executionPage(id, openedStep) {
  let execution = await api(`/api/executions/${id}`);
  const status = h("span", {}, badge(execution.status));
  const took = h("span", { class: "muted" });
  const failure = h("div");
  const body = h("tbody");
  const openStep = (step) => { location.hash = `#/executions/${id}/steps/${encodeURIComponent(step)}`; };
  const box = await graph(execution.graph, execution.steps, openStep);
  const retryMessage = h("span", { id: "retry-message", class: "muted" });
  const retry = h("button", { id: "retry-button", onclick: async () => {
    retry.disabled = true;
    try {
      await post(`/api/executions/${id}/retry`);
      retryMessage.textContent = "retrying…";
      schedule();
    } catch (error) {
      retryMessage.textContent = error.message;
      retryMessage.className = "error";
      retry.disabled = false;
    }
  } }, "Retry failed steps");
  const pipeline = await api(`/api/pipelines/${encodeURIComponent(execution.pipeline)}`).catch(() => null);
  let lastPanel = "";

  function update() {
    status.replaceChildren(badge(execution.status));
    took.textContent = ` ${when(execution.start)} · ${seconds(execution.seconds)} · ${execution.source}`;
    failure.replaceChildren(execution.failure_reason ? h("div", { class: "failure" }, execution.failure_reason) : "");
    body.replaceChildren(...stepRows(execution, openStep));
    paint(box, execution.steps);
    retry.hidden = execution.status !== "Failed";
    for (const node of box.querySelectorAll("g.node")) node.classList.toggle("selected", node.dataset.step === openedStep);
  }

  function schedule() {
    stopPolling();
    pollTimer = setTimeout(async () => {
      try {
        execution = await api(`/api/executions/${id}`);
        update();
        if (openedStep) {
          const step = execution.steps.find((s) => s.name === openedStep);
          const key = step ? `${step.status}/${step.attempts}` : "";
          if (key !== lastPanel) { lastPanel = key; await stepPanel(id, openedStep); }
        }
      } catch (error) { /* a record being rewritten: next poll */ }
      if (!TERMINAL.includes(execution.status) || retryMessage.textContent === "retrying…") {
        if (TERMINAL.includes(execution.status)) retryMessage.textContent = "";
        schedule();
      }
    }, POLL_MS);
  }

  show(
    h("h1", {}, `${execution.pipeline} · `, h("code", {}, execution.id), " ", status),
    h("div", { class: "row" }, took, retry, retryMessage),
    failure,
    h("p", { class: "legend muted" }, ["Succeeded", "Executing", "Failed", "Pending", "NotExecuted"].map((s) => h("span", {}, badge(s)))),
    box,
    h("h2", {}, "Steps"),
    h("table", {}, h("thead", {}, h("tr", {}, ["step", "display name", "type", "status", "time", "attempts", "note"].map((x) => h("th", {}, x)))), body),
    h("h2", {}, "Parameters"),
    h("p", {}, h("code", {}, params(execution.parameters) || "defaults")),
    pipeline ? [h("h2", {}, "Run again with these parameters"), runForm(execution.pipeline, pipeline.parameter_list, execution.parameters)] : null);
  update();
  if (openedStep) {
    const step = execution.steps.find((s) => s.name === openedStep);
    lastPanel = step ? `${step.status}/${step.attempts}` : "";
    await stepPanel(id, openedStep);
  } else {
    closePanel();
  }
  if (!TERMINAL.includes(execution.status)) schedule();
}

async function stepPanel(id, name) {
  let step;
  try {
    step = await api(`/api/executions/${id}/steps/${encodeURIComponent(name)}`);
  } catch (error) {
    panel.replaceChildren(h("p", { class: "error" }, error.message));
    panel.hidden = false;
    return;
  }
  const properties = Object.keys(step.properties || {}).length;
  fill(panel,
    h("button", { class: "close", onclick: () => { location.hash = `#/executions/${id}`; } }, "close"),
    h("h2", { id: "step-title" }, step.display_name || step.name, " ", badge(step.status)),
    h("div", { class: "muted" }, `${step.name} · ${step.type}`),
    h("p", {}, step.description),
    table(["", ""], [
      h("tr", {}, h("th", {}, "start"), h("td", {}, when(step.start))),
      h("tr", {}, h("th", {}, "end"), h("td", {}, when(step.end))),
      h("tr", {}, h("th", {}, "attempts"), h("td", {}, step.attempts)),
      h("tr", {}, h("th", {}, "cache"), h("td", {}, step.cache_source ? ["hit: result of ", link(`#/executions/${step.cache_source}`, step.cache_source)] : "not a cache hit")),
    ]),
    step.failure_reason ? [h("h3", {}, "Failure reason"), h("div", { class: "failure", id: "failure-reason" }, step.failure_reason)] : null,
    step.property_files.length ? [h("h3", {}, "Property files"), step.property_files.map((f) =>
      h("div", {}, h("div", {}, h("code", {}, f.name), " ", h("span", { class: "muted" }, f.uri || f.path || "")),
        f.problem ? h("div", { class: "error" }, f.problem) : json(f.content)))] : null,
    h("h3", {}, properties ? "Evaluated arguments and outputs" : "Arguments (as defined; the step has no evaluated properties)"),
    json(properties ? step.properties : step.arguments),
    properties ? h("details", {}, h("summary", {}, "Arguments as defined"), json(step.arguments)) : null,
    h("h3", {}, "Log tail"),
    step.log_tail ? h("pre", { id: "log-tail" }, step.log_tail) : h("p", { class: "muted" }, "no log"),
    step.log_file ? h("div", { class: "muted" }, step.log_file) : null);
  panel.hidden = false;
}

// --- models ---------------------------------------------------------------------------------

function metricChart(canvas, label, versions, key) {
  charts.push(new Chart(canvas, {
    type: "line",
    data: {
      labels: versions.map((v) => `v${v.version}`),
      datasets: [{ label, data: versions.map((v) => v.metrics[key] ?? null), borderColor: "#0969da", backgroundColor: "#0969da", spanGaps: true }],
    },
    options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false }, title: { display: true, text: label } } },
  }));
}

function decisionCell(group, v, refresh) {
  const reason = h("input", { placeholder: "reason", class: "reason", size: 14 });
  const message = h("span", { class: "muted message" });
  const decide = async (decision) => {
    message.textContent = `${decision}…`;
    try {
      const action = await post(`/api/models/${encodeURIComponent(group)}/${v.version}/${decision}`, { reason: reason.value });
      let state = action;
      while (state.running) {
        await new Promise((resolve) => setTimeout(resolve, 400));
        state = await api(`/api/actions/${action.id}`);
        const models = await api("/api/models");
        const now = models.groups.find((g) => g.name === group)?.versions.find((x) => x.version === v.version);
        if (now && now.status !== v.status) break; // the decision is recorded; a deploy may still run
      }
      refresh();
    } catch (error) {
      message.textContent = error.message;
      message.className = "error";
    }
  };
  return h("td", { class: "row" },
    h("button", { class: "approve", disabled: v.status === "Approved", onclick: () => decide("approve") }, "Approve"),
    h("button", { class: "reject danger", disabled: v.status === "Rejected", onclick: () => decide("reject") }, "Reject"),
    reason, message);
}

async function modelsPage() {
  const data = await api("/api/models");
  clearCharts();
  const sections = [];
  const pending = [];
  for (const group of data.groups) {
    const keys = [...new Set(group.versions.flatMap((v) => Object.keys(v.metrics)))].sort();
    const rows = group.versions.slice().reverse().map((v) => {
      const last = v.history[v.history.length - 1];
      const serving = group.endpoints.filter((e) => e.version === v.version).map((e) => e.name);
      return h("tr", { "data-version": `${group.name}/${v.version}` },
        h("td", {}, `v${v.version}`), h("td", { class: "status" }, badge(v.status)), h("td", {}, when(v.created)),
        h("td", {}, v.execution ? link(`#/executions/${v.execution}`, v.execution) : ""),
        h("td", {}, h("code", {}, keys.slice(0, 6).map((k) => `${k}=${v.metrics[k] !== undefined ? Number(v.metrics[k]).toPrecision(4) : "-"}`).join(" "))),
        h("td", {}, last ? `${last.status} by ${last.by} at ${when(last.time)}${last.reason ? `: ${last.reason}` : ""}` : ""),
        h("td", {}, serving.length ? h("strong", {}, `serves ${serving.join(", ")}`) : ""),
        decisionCell(group.name, v, route));
    });
    const chartBoxes = h("div", { class: "charts" });
    keys.forEach((key) => {
      const canvas = h("canvas", { "data-metric": key });
      chartBoxes.append(h("div", { class: "chart" }, canvas));
      pending.push(() => metricChart(canvas, key, group.versions, key));
    });
    sections.push(
      h("h2", {}, group.name),
      table(["version", "status", "created", "execution", "metrics", "decision", "endpoint", ""], rows),
      keys.length ? [h("h3", {}, "Metrics across versions"), chartBoxes] : null);
  }
  show(
    h("h1", {}, "Model registry"),
    sections.length ? sections : h("p", { class: "muted" }, "No model package groups yet."),
    h("h2", {}, "Endpoints"),
    data.endpoints.length ? table(["endpoint", "status", "serves", "config", "updated"], data.endpoints.map((e) =>
      h("tr", {}, h("td", {}, e.name), h("td", {}, badge(e.status || "?")), h("td", {}, e.group ? `${e.group} v${e.version}` : (e.model_package_arn || "")),
        h("td", {}, e.config), h("td", {}, when(e.updated))))) : h("p", { class: "muted" }, "No local endpoint yet."));
  pending.forEach((draw) => draw());
}

// --- monitoring -----------------------------------------------------------------------------

async function monitoringPage() {
  const [traces, reports, alerts] = await Promise.all([
    api("/api/monitoring/traces"), api("/api/monitoring/reports"), api("/api/monitoring/alerts")]);
  clearCharts();
  const keys = [...new Set(reports.reports.flatMap((r) => Object.keys(r.metrics)))].sort();
  const chartBoxes = h("div", { class: "charts" });
  const pending = keys.map((key) => {
    const canvas = h("canvas", { "data-metric": key });
    chartBoxes.append(h("div", { class: "chart" }, canvas));
    return () => charts.push(new Chart(canvas, {
      type: "line",
      data: { labels: reports.reports.map((r) => when(r.time)), datasets: [{ label: key, data: reports.reports.map((r) => r.metrics[key] ?? null), borderColor: "#8250df", backgroundColor: "#8250df", spanGaps: true }] },
      options: { animation: false, maintainAspectRatio: false, plugins: { legend: { display: false }, title: { display: true, text: key } } },
    }));
  });
  const spanList = (spans) => h("ul", { class: "spans" }, spans.map((s) =>
    h("li", {}, h("code", {}, s.name), ` ${s.type || ""} ${s.latency_ms !== undefined && s.latency_ms !== null ? `${Number(s.latency_ms).toFixed(1)} ms` : ""}`, s.error ? h("span", { class: "error" }, ` ${s.error}`) : "")));
  show(
    h("h1", {}, "Monitoring"),
    h("h2", {}, "Monitoring reports over time"),
    reports.reports.length ? [chartBoxes, table(["time", "execution", "verdict", "traces", "reason"], reports.reports.slice().reverse().map((r) =>
      h("tr", {}, h("td", {}, when(r.time)), h("td", {}, link(`#/executions/${r.execution}`, r.execution)), h("td", {}, badge(r.verdict)), h("td", {}, r.traces ?? ""), h("td", {}, r.reason || ""))))]
      : h("p", { class: "muted" }, "No monitoring reports yet (run llm-twin-monitoring)."),
    h("h2", {}, "Traces"),
    h("div", { class: "muted" }, traces.file),
    traces.traces.length ? table(["start", "question", "answer", "spans", "feedback"], traces.traces.map((t) =>
      h("tr", { "data-trace": t.id }, h("td", {}, when(t.start)), h("td", {}, t.query), h("td", {}, t.error ? h("span", { class: "error" }, t.error) : t.answer.slice(0, 200)),
        h("td", {}, h("details", {}, h("summary", {}, `${t.spans.length} spans`), spanList(t.spans))),
        h("td", {}, t.feedback.map((f) => h("div", {}, `${f.name}=${f.value} (${f.source || "?"})${f.reason ? `: ${f.reason}` : ""}`))))))
      : h("p", { class: "muted" }, "No traces yet."),
    h("h2", {}, "Alerts"),
    alerts.alerts.length ? table(["time", "rule", "message"], alerts.alerts.map((a) =>
      h("tr", {}, h("td", {}, when(a.time)), h("td", {}, a.rule), h("td", {}, a.message, a.delivery_error ? h("div", { class: "error" }, a.delivery_error) : ""))))
      : h("p", { class: "muted" }, "No alerts yet."));
  pending.forEach((draw) => draw());
}

// --- routing --------------------------------------------------------------------------------

async function route() {
  stopPolling();
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const page = parts[0] || "pipelines";
  for (const a of document.querySelectorAll("header nav a")) a.classList.toggle("active", a.dataset.page === page);
  if (!(page === "executions" && parts[1])) closePanel();
  try {
    if (page === "pipelines" && parts[1]) await pipelinePage(parts[1]);
    else if (page === "pipelines") await pipelinesPage();
    else if (page === "executions" && parts[1]) await executionPage(parts[1], parts[2] === "steps" ? parts[3] : null);
    else if (page === "executions") await executionsPage();
    else if (page === "models") await modelsPage();
    else if (page === "monitoring") await monitoringPage();
    else show(h("p", { class: "error" }, `no page ${location.hash}`));
    document.body.dataset.ready = location.hash || "#/pipelines";
  } catch (error) {
    show(h("p", { class: "error", id: "page-error" }, error.message));
    document.body.dataset.ready = location.hash;
  }
}

api("/api/status").then((s) => { document.getElementById("where").textContent = `state ${s.state} · env ${s.env}`; }).catch(() => {});
window.addEventListener("hashchange", route);
route();
