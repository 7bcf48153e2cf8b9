// Alert toasts: the `alert` messages of /ws (rules of the `alerts.rules` setting), shown for a
// few seconds in one line each in the header's free middle (where they cover no panel). Repeats of one rule, kind and symbol are coalesced into one toast
// with a count (its text and time the latest's, its timer restarted), at most TOASTS are shown
// (the oldest goes), each removed SHOW_MS after its latest alert. Arriving alerts are queued and
// rendered at most once per animation frame; the page keeps the latest HISTORY alerts.
import { clockText, zoneLabel } from "./timefmt.js";

export const TOASTS = 3;
const SHOW_MS = 6000;
const HISTORY = 100;

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

/** The coalescing key: alerts of one rule, kind and symbol share a toast. */
export const alertKey = (alert) => `${alert.rule}|${alert.kind}|${alert.symbol ?? ""}`;

/** Toasts in `container`; `onSymbol(symbol)` is called when a toast with a symbol is clicked. */
export function createAlerts(container, onSymbol) {
  const alerts = { received: 0, shown: 0, coalesced: 0, history: [], lastSeq: 0 };
  const open = new Map(); // key -> { element, count, timer }
  let queue = [];
  let frameRequested = false;

  function close(key) {
    const toast = open.get(key);
    if (!toast) return;
    clearTimeout(toast.timer);
    toast.element.remove();
    open.delete(key);
  }

  function paint(toast, alert) {
    const count = toast.count > 1 ? `<span class="count" title="alerts of this rule and symbol">×${toast.count}</span>` : "";
    toast.element.dataset.seq = String(alert.seq);
    toast.element.dataset.count = String(toast.count);
    toast.element.innerHTML =
      `<span class="rule">${escape(alert.rule)}</span>${count} <span class="time">${clockText(alert.ts_ns / 1e6)} ${zoneLabel()}</span>` +
      ` <span class="message">${escape(alert.message)}</span>`;
    toast.element.title = `${alert.rule}${toast.count > 1 ? ` (×${toast.count})` : ""}: ${alert.message} (click: show ${alert.symbol ?? "it"}, dismiss)`;
  }

  function render() {
    frameRequested = false;
    const fresh = queue;
    queue = [];
    for (const alert of fresh) {
      const key = alertKey(alert);
      let toast = open.get(key);
      if (toast) {
        toast.count += 1;
        alerts.coalesced += 1;
        clearTimeout(toast.timer);
      } else {
        const element = document.createElement("div");
        element.className = `toast kind-${alert.kind}`;
        element.dataset.rule = alert.rule;
        element.dataset.symbol = alert.symbol ?? "";
        element.dataset.key = key;
        toast = { element, count: 1, timer: null, symbol: alert.symbol };
        element.addEventListener("click", () => {
          if (toast.symbol) onSymbol(toast.symbol);
          close(key);
        });
        open.set(key, toast);
        alerts.shown += 1;
      }
      paint(toast, alert);
      container.prepend(toast.element); // the latest on top
      toast.timer = setTimeout(() => close(key), SHOW_MS);
    }
    while (container.children.length > TOASTS) close(container.lastElementChild.dataset.key);
    container.dataset.shown = String(alerts.shown);
    container.dataset.coalesced = String(alerts.coalesced);
  }

  /** One `alert` message's data. */
  alerts.show = (alert) => {
    if (alert.seq <= alerts.lastSeq) return; // already seen (e.g. after a reconnect)
    alerts.lastSeq = alert.seq;
    alerts.received += 1;
    alerts.history.push(alert);
    if (alerts.history.length > HISTORY) alerts.history.shift();
    queue.push(alert);
    if (queue.length > 4 * HISTORY) queue.shift(); // a hidden tab gets no frames: stay bounded
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(render);
    }
  };
  return alerts;
}
