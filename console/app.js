// The Integrations console: plain DOM code, no build step. Forms are generated from the providers catalog,
// so a provider added to the API needs no change here. The API key lives in sessionStorage only.
"use strict";

const KEY_STORAGE = "apviso.apiKey";
const LOG_PAGE_SIZE = 20;
const CHART_DAYS = 30;
const CHART_MAX_PAGES = 20; // at most 2,000 deliveries are fetched for the chart
const DAY_MS = 24 * 60 * 60 * 1000;

const state = {
  providers: [],        // the catalog
  integrations: [],
  editing: null,        // the integration being edited, null when creating
  detail: null,         // the integration whose deliveries are shown
  logsPage: 1,
};

const $ = (id) => document.getElementById(id);

// ---------------------------------------------------------------- small DOM helpers

/** Builds an element; attributes starting with "on" become listeners; children may be strings or nodes. */
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** Shows one view and moves focus to its heading, so keyboard and screen reader users land in it. */
function show(view) {
  for (const id of ["connect-view", "list-view", "editor-view", "detail-view"]) $(id).hidden = id !== view;
  const heading = $(view).querySelector("h2");
  heading.tabIndex = -1;
  heading.focus();
}

// The live region stays in the page (only empty), so screen readers announce each new message.
function announce(message, isError = false) {
  const box = $("announcer");
  box.classList.toggle("is-error", isError);
  box.textContent = message;
}

function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

// ---------------------------------------------------------------- the API

class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `The API answered ${status}`);
    this.status = status;
    this.code = error.code || "http_" + status;
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

function apiBase() {
  const config = window.CONSOLE_CONFIG || {};
  return String(config.apiBaseUrl || "").replace(/\/$/, "");
}

/** One API call; rejects with ApiError (never with the key in the message). */
async function api(method, path, body) {
  const headers = { "X-API-Key": sessionStorage.getItem(KEY_STORAGE) || "" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(apiBase() + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
    });
  } catch {
    throw new ApiError(0, { error: { message: "The API cannot be reached. Check your connection and retry." } });
  }
  const payload = await response.json().catch(() => null);
  if (!response.ok) {
    const failure = new ApiError(response.status, payload);
    if (response.status === 401 || response.status === 403) signOut("The API key was refused. Enter a valid key.");
    throw failure;
  }
  return payload;
}

// ---------------------------------------------------------------- connecting

async function connect(event) {
  event.preventDefault();
  const key = $("api-key").value.trim();
  $("api-key-error").textContent = "";
  if (!key) {
    $("api-key-error").textContent = "Enter your API key.";
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  $("api-key").value = "";
  await start();
}

async function start() {
  try {
    const [catalog] = await Promise.all([api("GET", "/v1/integrations/providers"), loadIntegrations()]);
    state.providers = catalog.providers || [];
    renderIntegrations(); // again, now with the providers' names
    $("sign-out").hidden = false;
    show("list-view");
  } catch (error) {
    if (error.status !== 401 && error.status !== 403) announce(error.message, true);
  }
}

function signOut(message) {
  sessionStorage.removeItem(KEY_STORAGE);
  state.integrations = [];
  $("sign-out").hidden = true;
  show("connect-view");
  $("api-key-error").textContent = message || "";
  announce("");
  $("api-key").focus();
}

// ---------------------------------------------------------------- the list

async function loadIntegrations() {
  const reply = await api("GET", "/v1/integrations");
  state.integrations = reply.data || [];
  renderIntegrations();
}

function providerName(id) {
  const provider = state.providers.find((p) => p.id === id);
  return provider ? provider.name : id;
}

function statusCell(integration) {
  const label = integration.enabled ? "Enabled" : "Disabled";
  const cell = el("td", {}, el("span", { className: integration.enabled ? "badge ok" : "badge off" }, label));
  // Present only while the service or an operator has disabled it.
  if (integration.disabledReason) cell.append(el("div", { className: "help" }, integration.disabledReason));
  if (integration.disabledAt) cell.append(el("div", { className: "help" }, "since " + formatTime(integration.disabledAt)));
  return cell;
}

function lastDeliveryCell(integration) {
  if (!integration.lastDeliveryAt) return el("td", { className: "muted" }, "none yet");
  const ok = integration.lastDeliveryStatus === "success";
  return el("td", {},
    el("span", { className: ok ? "badge ok" : "badge bad" }, integration.lastDeliveryStatus || "unknown"),
    " ", formatTime(integration.lastDeliveryAt));
}

function integrationRow(integration) {
  const label = (verb) => `${verb} ${integration.name}`;
  return el("tr", { "data-id": integration.id },
    el("th", { scope: "row" }, integration.name, el("div", { className: "help" }, providerName(integration.provider))),
    statusCell(integration),
    el("td", {}, el("ul", { className: "tags" }, integration.enabledEvents.map((e) => el("li", {}, e)))),
    el("td", {}, integration.minimumSeverity || "any"),
    lastDeliveryCell(integration),
    el("td", { className: "actions" },
      el("button", { type: "button", onclick: () => openDetail(integration), "aria-label": label("Deliveries of") },
        "Deliveries"),
      el("button", { type: "button", onclick: () => openEditor(integration), "aria-label": label("Edit") }, "Edit"),
      el("button", { type: "button", onclick: () => toggleEnabled(integration),
        "aria-label": label(integration.enabled ? "Disable" : "Enable") }, integration.enabled ? "Disable" : "Enable"),
      el("button", { type: "button", className: "danger", onclick: () => confirmDelete(integration),
        "aria-label": label("Delete") }, "Delete")));
}

function renderIntegrations() {
  const rows = state.integrations.map(integrationRow);
  $("integrations").querySelector("tbody").replaceChildren(...rows);
  $("integrations").hidden = rows.length === 0;
  $("list-empty").hidden = rows.length > 0;
}

async function toggleEnabled(integration) {
  try {
    await api("PATCH", `/v1/integrations/${integration.id}`, { enabled: !integration.enabled });
    announce(`${integration.name} ${integration.enabled ? "disabled" : "enabled"}.`);
    await loadIntegrations();
    // The table was drawn again: give keyboard users their place back, on the same row's toggle.
    const row = $("integrations").querySelector(`tr[data-id="${CSS.escape(integration.id)}"]`);
    if (row) row.querySelector("td.actions button:nth-child(3)").focus();
  } catch (error) {
    announce(error.message, true);
  }
}

function confirmDelete(integration) {
  const dialog = $("confirm-delete");
  $("confirm-text").textContent =
    `“${integration.name}” stops receiving events at once. Its delivery log stays readable for 30 days.`;
  dialog.returnValue = "";
  dialog.onclose = async () => {
    if (dialog.returnValue !== "delete") return;
    try {
      await api("DELETE", `/v1/integrations/${integration.id}`);
      announce(`${integration.name} deleted.`);
      await loadIntegrations();
      show("list-view");
    } catch (error) {
      announce(error.message, true);
    }
  };
  dialog.showModal();
}

// ---------------------------------------------------------------- the form, generated from the catalog

/** One input for a catalog field, by its type; its data-field is the API's path for validation errors. */
function fieldControl(group, field, editing) {
  const path = `${group}.${field.name}`;
  const id = "f-" + path.replace(/\W/g, "-");
  const required = field.required && !(editing && group === "credentials");
  const described = `${id}-help ${id}-error`;
  const common = { id, "data-name": field.name, "data-type": field.type, "aria-describedby": described,
    required, "aria-required": required ? "true" : undefined, autocomplete: "off", spellcheck: "false" };
  let input;
  let hint = "";
  if (field.type === "boolean") {
    input = el("input", { ...common, type: "checkbox", required: false, "aria-required": undefined });
  } else if (field.type === "string[]") {
    input = el("textarea", { ...common, rows: 3 });
    hint = "One per line.";
  } else if (field.type === "object") {
    input = el("textarea", { ...common, rows: 3, placeholder: '{"X-Team": "security"}' });
    hint = "A JSON object.";
  } else {
    // Secrets are masked while typed; "Show credentials" reveals them.
    const secret = group === "credentials";
    input = el("input", { ...common, type: secret ? "password" : "text", "data-secret": secret });
  }
  const marker = required ? el("span", { className: "req", "aria-hidden": "true" }, " *") : null;
  const help = [(field.description || "").replace(/\.$/, ""), hint].filter(Boolean).join(". ");
  const label = el("label", { for: id }, field.name, marker);
  return el("div", { className: field.type === "boolean" ? "field check" : "field", "data-field": path },
    field.type === "boolean" ? [input, label] : [label, input],
    el("p", { id: id + "-help", className: "help" }, help),
    el("p", { id: id + "-error", className: "error" }));
}

function currentProvider() {
  const id = state.editing ? state.editing.provider : $("provider").value;
  return state.providers.find((p) => p.id === id);
}

function renderProviderFields() {
  const provider = currentProvider();
  const editing = Boolean(state.editing);
  $("provider-help").textContent = provider ? provider.description : "";
  $("credential-fields").replaceChildren(...provider.credentialFields.map((f) => fieldControl("credentials", f, editing)));
  $("config-fields").replaceChildren(...provider.configFields.map((f) => fieldControl("config", f, editing)));
  $("config-set").hidden = provider.configFields.length === 0;
  $("replace-config-row").hidden = !editing;
  $("replace-config").checked = false;
  setConfigEnabled(!editing);
  $("credentials-hint").textContent = editing
    ? "Stored credentials are never shown. Leave a field blank to keep it; type a new value to replace it."
    : "";
  $("show-credentials").checked = false;
  const chosen = editing ? new Set(state.editing.enabledEvents) : new Set(provider.supportedEvents);
  $("event-boxes").replaceChildren(...provider.supportedEvents.map((name, i) =>
    el("label", { className: "inline" },
      el("input", { type: "checkbox", id: `event-${i}`, value: name, checked: chosen.has(name) }), " ", name)));
}

function setConfigEnabled(enabled) {
  for (const input of $("config-fields").querySelectorAll("input, textarea")) input.disabled = !enabled;
}

function openEditor(integration) {
  if (integration && !state.providers.some((p) => p.id === integration.provider)) {
    announce(`The provider ${integration.provider} is not in the catalog any more; it cannot be edited.`, true);
    return;
  }
  state.editing = integration || null;
  clearErrors();
  announce("");
  $("editor-title").textContent = integration ? `Edit ${integration.name}` : "New integration";
  $("save").textContent = integration ? "Save changes" : "Create integration";
  $("provider-row").hidden = Boolean(integration);
  if (!integration) {
    $("provider").replaceChildren(...state.providers.map((p) => el("option", { value: p.id }, p.name)));
  }
  $("name").value = integration ? integration.name : "";
  $("minimumSeverity").value = integration ? integration.minimumSeverity || "" : "";
  renderProviderFields();
  show("editor-view");
  (integration ? $("name") : $("provider")).focus();
}

/** The value of one generated control, or undefined when it is blank. Throws a field error for bad JSON. */
function controlValue(input) {
  if (input.dataset.type === "boolean") return input.checked;
  const text = input.value.trim();
  if (!text) return undefined;
  if (input.dataset.type === "string[]") return text.split("\n").map((s) => s.trim()).filter(Boolean);
  if (input.dataset.type === "object") {
    let value;
    try {
      value = JSON.parse(text);
    } catch {
      value = null;
    }
    if (!value || typeof value !== "object" || Array.isArray(value)) {
      const field = input.closest("[data-field]").dataset.field;
      throw { field, message: 'Enter a JSON object, e.g. {"X-Team": "security"}' };
    }
    return value;
  }
  return text;
}

function collectGroup(containerId) {
  const values = {};
  for (const input of $(containerId).querySelectorAll("[data-name]")) {
    const value = controlValue(input);
    if (value !== undefined) values[input.dataset.name] = value;
  }
  return values;
}

/** The create body, or the PATCH body of what changed. */
function formBody() {
  const events = [...$("event-boxes").querySelectorAll("input:checked")].map((box) => box.value);
  const severity = $("minimumSeverity").value || null;
  const credentials = collectGroup("credential-fields");
  const config = collectGroup("config-fields");
  const name = $("name").value.trim();
  if (!state.editing) {
    const body = { provider: $("provider").value, name, credentials, enabledEvents: events, minimumSeverity: severity };
    if (Object.keys(config).length) body.config = config;
    return body;
  }
  const before = state.editing;
  const body = {};
  if (name !== before.name) body.name = name;
  if (events.join() !== before.enabledEvents.join()) body.enabledEvents = events;
  if (severity !== (before.minimumSeverity || null)) body.minimumSeverity = severity;
  if (Object.keys(credentials).length) body.credentials = credentials;
  if ($("replace-config").checked) body.config = Object.keys(config).length ? config : null;
  return body;
}

function clearErrors() {
  $("form-errors").replaceChildren();
  for (const node of $("editor-form").querySelectorAll(".error")) if (node.id !== "form-errors") node.textContent = "";
  for (const node of $("editor-form").querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

/** The form element an API path such as credentials.url, enabledEvents[2] or config.headers.X-A belongs to. */
function fieldFor(path) {
  let candidate = path;
  while (candidate) {
    const found = $("editor-form").querySelector(`[data-field="${CSS.escape(candidate)}"]`);
    if (found) return found;
    const shorter = candidate.replace(/(\[\d+\]|\.[^.[\]]*)$/, "");
    if (shorter === candidate) break;
    candidate = shorter;
  }
  return null;
}

/** Places each {field, message} next to its field; the rest (and a summary) above the form. */
function showErrors(details, fallbackMessage) {
  clearErrors();
  const unplaced = [];
  let first = null;
  for (const detail of details) {
    const container = fieldFor(detail.field || "");
    const slot = container && container.querySelector(".error");
    if (!slot) {
      unplaced.push(`${detail.field}: ${detail.message}`);
      continue;
    }
    slot.textContent = (slot.textContent ? slot.textContent + " " : "") + detail.message;
    const input = container.matches("fieldset") ? null : container.querySelector("input, textarea, select");
    if (input) input.setAttribute("aria-invalid", "true");
    first = first || input || container.querySelector("input");
  }
  const summary = details.length ? "Please correct the highlighted fields." : fallbackMessage;
  $("form-errors").replaceChildren(el("p", {}, summary), ...unplaced.map((text) => el("p", {}, text)));
  if (first) first.focus();
}

async function saveIntegration(event) {
  event.preventDefault();
  clearErrors();
  let body;
  try {
    body = formBody();
  } catch (problem) {
    showErrors([problem]);
    return;
  }
  if (state.editing && Object.keys(body).length === 0) {
    showErrors([], "Nothing changed.");
    return;
  }
  const button = $("save");
  button.disabled = true;
  try {
    const saved = state.editing
      ? await api("PATCH", `/v1/integrations/${state.editing.id}`, body)
      : await api("POST", "/v1/integrations", body);
    announce(`${saved.name} ${state.editing ? "saved" : "created"}.`);
    state.editing = null;
    await loadIntegrations();
    show("list-view");
  } catch (error) {
    if (error.status === 401 || error.status === 403) return;
    showErrors(error.details, error.message);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- deliveries: test, log, chart

async function openDetail(integration) {
  state.detail = integration;
  state.logsPage = 1;
  $("detail-title").textContent = `Deliveries of ${integration.name}`;
  $("test-result").replaceChildren();
  resetRecoverForm();
  announce("");
  show("detail-view");
  $("run-test").focus();
  await Promise.all([loadLogs(), drawChart()]);
}

async function runTest() {
  const button = $("run-test");
  const box = $("test-result");
  button.disabled = true;
  box.className = "test-result";
  box.textContent = "Sending a test event…";
  try {
    const result = await api("POST", `/v1/integrations/${state.detail.id}/test`);
    box.classList.add(result.success ? "ok" : "bad");
    const facts = [
      `Response code: ${result.responseCode ?? "none"}`,
      `Response time: ${result.responseTime} ms`,
    ];
    if (result.error) facts.push(`Error: ${result.error}`);
    box.replaceChildren(el("strong", {}, result.success ? "Success" : "Failed"), " — ", result.message,
      el("ul", {}, facts.map((fact) => el("li", {}, fact))));
    await Promise.all([loadLogs(), drawChart(), loadIntegrations()]);
  } catch (error) {
    box.classList.add("bad");
    box.textContent = `Failed — ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

function logRow(entry) {
  const ok = entry.status === "success";
  // A test delivery is not redelivered (the API refuses it): send a new test instead.
  const redeliver = entry.event === "integration.test" ? "" : el("button", {
    type: "button",
    "aria-label": `Redeliver ${entry.event} of ${formatTime(entry.deliveredAt)} (attempt ${entry.attempt ?? "?"})`,
    onclick: (event) => redeliverEntry(entry, event.currentTarget),
  }, "Redeliver");
  return el("tr", {},
    el("td", {}, formatTime(entry.deliveredAt)),
    el("td", {}, entry.event),
    el("td", {}, el("span", { className: ok ? "badge ok" : "badge bad" }, entry.status)),
    el("td", {}, entry.attempt ?? "—"),
    el("td", {}, entry.responseCode ?? "—"),
    el("td", {}, `${entry.responseTime} ms`),
    el("td", { className: "wrap" }, entry.error || ""),
    el("td", { className: "actions" }, redeliver));
}

async function redeliverEntry(entry, button) {
  button.disabled = true;
  try {
    const queued = await api("POST", `/v1/integrations/${state.detail.id}/logs/${entry.id}/redeliver`);
    announce(`Redelivery of ${queued.event} queued (delivery ${queued.deliveryId}); it appears in the log once attempted.`);
    refreshLogsSoon();
  } catch (error) {
    announce(error.message, true);
  } finally {
    button.disabled = false;
  }
}

/** The value a datetime-local input shows for ``date`` in the browser's time zone. */
function localInputValue(date) {
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 16);
}

function resetRecoverForm() {
  const now = new Date();
  const input = $("recover-since");
  input.min = localInputValue(new Date(now.getTime() - 30 * DAY_MS + 60_000));
  input.max = localInputValue(now);
  input.value = localInputValue(new Date(now.getTime() - DAY_MS)); // a receiver down for a day: the usual case
  $("recover-result").replaceChildren();
}

/** The recover route's count: final when the whole window was walked, so far when the rest continues. */
function recoveredCount({ queued, complete }) {
  const deliveries = queued === 1 ? "delivery" : "deliveries";
  return complete ? `${queued} ${deliveries} queued` : `${queued} queued so far, the rest continues`;
}

async function recoverFailed(event) {
  event.preventDefault();
  const box = $("recover-result");
  const value = $("recover-since").value;
  box.className = "test-result";
  if (!value) {
    box.classList.add("bad");
    box.textContent = "Choose the time since which failed deliveries are sent again.";
    return;
  }
  const since = new Date(value).toISOString().replace(/\.\d{3}Z$/, "Z"); // the local time, in UTC
  const button = $("recover");
  button.disabled = true;
  try {
    const accepted = await api("POST", `/v1/integrations/${state.detail.id}/recover`, { since });
    box.classList.add("ok");
    box.replaceChildren(el("strong", {}, recoveredCount(accepted)), " — deliveries whose latest attempt failed since ",
      formatTime(accepted.since), " are sent again, once each. They appear in the log below as they are attempted.");
    refreshLogsSoon();
  } catch (error) {
    box.classList.add("bad");
    box.textContent = `Not recovered — ${error.message}`;
  } finally {
    button.disabled = false;
  }
}

/** Redeliveries are queued, not sent yet: reload the log a few times while they are attempted. */
function refreshLogsSoon() {
  const detail = state.detail;
  for (const delay of [1000, 3000, 6000, 10000]) {
    setTimeout(() => { if (state.detail === detail) Promise.all([loadLogs(), drawChart()]); }, delay);
  }
}

async function loadLogs() {
  const page = state.logsPage;
  const detail = state.detail;
  try {
    const reply = await api("GET", `/v1/integrations/${detail.id}/logs?page=${page}&limit=${LOG_PAGE_SIZE}`);
    if (state.detail !== detail || state.logsPage !== page) return; // a slower answer for a view left since
    const rows = (reply.data || []).map(logRow);
    $("logs").querySelector("tbody").replaceChildren(...rows);
    $("logs").hidden = rows.length === 0;
    $("logs-empty").hidden = rows.length > 0;
    const pages = reply.pagination ? Math.max(1, reply.pagination.totalPages) : page;
    const total = reply.pagination ? reply.pagination.total : rows.length;
    $("logs-page").textContent = `Page ${page} of ${pages} (${total} ${total === 1 ? "entry" : "entries"})`;
    $("logs-prev").disabled = page <= 1;
    $("logs-next").disabled = page >= pages;
  } catch (error) {
    announce(error.message, true);
  }
}

function changeLogsPage(step) {
  state.logsPage = Math.max(1, state.logsPage + step);
  loadLogs();
}

/** Successes and failures per UTC day over the last CHART_DAYS days, from the logs (newest first). */
async function dailyCounts(integrationId) {
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const first = today - (CHART_DAYS - 1) * DAY_MS;
  const days = Array.from({ length: CHART_DAYS }, (_, i) => ({ day: first + i * DAY_MS, success: 0, failed: 0 }));
  let truncated = false;
  for (let page = 1; ; page += 1) {
    const reply = await api("GET", `/v1/integrations/${integrationId}/logs?page=${page}&limit=100`);
    const entries = reply.data || [];
    let reachedStart = false;
    for (const entry of entries) {
      const at = Date.parse(entry.deliveredAt);
      if (at < first) { reachedStart = true; break; }
      const bucket = days[Math.min(CHART_DAYS - 1, Math.floor((at - first) / DAY_MS))];
      if (entry.status === "success") bucket.success += 1; else bucket.failed += 1;
    }
    const lastPage = !reply.pagination || page >= reply.pagination.totalPages || entries.length === 0;
    if (reachedStart || lastPage) break;
    if (page >= CHART_MAX_PAGES) { truncated = true; break; }
  }
  return { days, truncated };
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  node.append(...children);
  return node;
}

async function drawChart() {
  const integration = state.detail;
  const target = $("chart");
  let counts;
  try {
    counts = await dailyCounts(integration.id);
  } catch (error) {
    target.textContent = "The chart could not be loaded: " + error.message;
    return;
  }
  if (state.detail !== integration) return; // another integration was opened meanwhile
  const { days, truncated } = counts;
  const successes = days.reduce((sum, d) => sum + d.success, 0);
  const failures = days.reduce((sum, d) => sum + d.failed, 0);
  const peak = Math.max(1, ...days.map((d) => d.success + d.failed));
  const width = 600, height = 120, bar = width / CHART_DAYS;
  const summary = `${successes} successful and ${failures} failed deliveries in the last ${CHART_DAYS} days`;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height + 16}`, role: "img", "aria-label": summary, class: "chart" });
  days.forEach((d, i) => {
    const okHeight = (d.success / peak) * height;
    const badHeight = (d.failed / peak) * height;
    const label = `${new Date(d.day).toISOString().slice(0, 10)}: ${d.success} succeeded, ${d.failed} failed`;
    const group = svg("g", {}, svg("title", {}, label));
    group.append(svg("rect", { x: i * bar + 1, y: height - okHeight, width: bar - 2, height: okHeight, class: "ok" }));
    group.append(svg("rect", { x: i * bar + 1, y: height - okHeight - badHeight, width: bar - 2, height: badHeight, class: "bad" }));
    chart.append(group);
  });
  chart.append(svg("line", { x1: 0, y1: height, x2: width, y2: height, class: "axis" }));
  chart.append(svg("text", { x: 0, y: height + 14, class: "axis-label" }, `${CHART_DAYS} days ago`));
  chart.append(svg("text", { x: width, y: height + 14, "text-anchor": "end", class: "axis-label" }, "today"));
  const legend = el("p", { className: "legend" },
    el("span", { className: "swatch ok", "aria-hidden": "true" }), ` ${successes} succeeded `,
    el("span", { className: "swatch bad", "aria-hidden": "true" }), ` ${failures} failed`,
    truncated ? ` (from the latest ${CHART_MAX_PAGES * 100} deliveries)` : "");
  target.replaceChildren(chart, legend);
}

// ---------------------------------------------------------------- wiring

function init() {
  $("connect-form").addEventListener("submit", connect);
  $("sign-out").addEventListener("click", () => signOut("Key forgotten."));
  $("new-integration").addEventListener("click", () => openEditor(null));
  $("provider").addEventListener("change", () => { clearErrors(); renderProviderFields(); });
  $("replace-config").addEventListener("change", (e) => setConfigEnabled(e.target.checked));
  $("show-credentials").addEventListener("change", (e) => {
    for (const input of $("credential-fields").querySelectorAll("[data-secret]")) {
      input.type = e.target.checked ? "text" : "password";
    }
  });
  $("editor-form").addEventListener("submit", saveIntegration);
  $("cancel-edit").addEventListener("click", () => { state.editing = null; show("list-view"); });
  $("close-detail").addEventListener("click", () => { state.detail = null; show("list-view"); });
  $("run-test").addEventListener("click", runTest);
  $("recover-form").addEventListener("submit", recoverFailed);
  $("logs-prev").addEventListener("click", () => changeLogsPage(-1));
  $("logs-next").addEventListener("click", () => changeLogsPage(1));
  $("local-hint").hidden = !["127.0.0.1", "localhost", "[::1]"].includes(location.hostname);
  if (sessionStorage.getItem(KEY_STORAGE)) start();
  else {
    show("connect-view");
    $("api-key").focus();
  }
}

init();
