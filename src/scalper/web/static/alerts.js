// Alert toasts: the `alert` messages of /ws (rules of the `alerts.rules` setting), shown in a
// corner for a few seconds. Bounded and cheap: arriving alerts are queued and rendered at most
// once per animation frame, at most TOASTS are shown (the oldest goes), each removed after
// SHOW_MS; the page keeps the latest HISTORY alerts for inspection.
const TOASTS = 5;
const SHOW_MS = 8000;
const HISTORY = 100;

const escape = (text) =>
  String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

/** Toasts in `container`; `onSymbol(symbol)` is called when a toast with a symbol is clicked. */
export function createAlerts(container, onSymbol) {
  const alerts = { received: 0, shown: 0, history: [], lastSeq: 0 };
  let queue = [];
  let frameRequested = false;

  function render() {
    frameRequested = false;
    const fresh = queue.slice(-TOASTS);
    queue = [];
    for (const alert of fresh) {
      const toast = document.createElement("div");
      toast.className = `toast kind-${alert.kind}`;
      toast.dataset.rule = alert.rule;
      toast.dataset.symbol = alert.symbol;
      toast.dataset.seq = String(alert.seq);
      const time = new Date(alert.ts_ns / 1e6).toISOString().slice(11, 19);
      toast.innerHTML = `<span class="rule">${escape(alert.rule)}</span> <span class="time">${time} UTC</span><div>${escape(alert.message)}</div>`;
      toast.addEventListener("click", () => {
        if (alert.symbol) onSymbol(alert.symbol);
        toast.remove();
      });
      container.prepend(toast);
      setTimeout(() => toast.remove(), SHOW_MS);
      alerts.shown += 1;
    }
    while (container.children.length > TOASTS) container.lastElementChild.remove();
    container.dataset.shown = String(alerts.shown);
  }

  /** One `alert` message's data. */
  alerts.show = (alert) => {
    if (alert.seq <= alerts.lastSeq) return; // already seen (e.g. after a reconnect)
    alerts.lastSeq = alert.seq;
    alerts.received += 1;
    alerts.history.push(alert);
    if (alerts.history.length > HISTORY) alerts.history.shift();
    queue.push(alert);
    if (!frameRequested) {
      frameRequested = true;
      requestAnimationFrame(render);
    }
  };
  return alerts;
}
