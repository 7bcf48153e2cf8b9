// Times in UTC (the default, as the engine and the API) or in the browser's local time zone,
// chosen with the header's time button and kept in localStorage; one formatter for the page.
const KEY = "scalper.timeZone";
let zone = localStorage.getItem(KEY) === "local" ? "local" : "utc";
const listeners = [];

const pad = (value, width = 2) => String(value).padStart(width, "0");

/** "utc" or "local". */
export const timeZone = () => zone;

/** HH:MM:SS (HH:MM:SS.mmm with `millis`) of epoch milliseconds `ms` in the chosen zone. */
export function clockText(ms, millis = false) {
  const d = new Date(ms);
  const utc = zone === "utc";
  const text = utc
    ? `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`
    : `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return millis ? `${text}.${pad(utc ? d.getUTCMilliseconds() : d.getMilliseconds(), 3)}` : text;
}

/** The zone's short label: "UTC" or the local offset ("UTC+1", "UTC-5:30"). */
export function zoneLabel() {
  if (zone === "utc") return "UTC";
  const minutes = -new Date().getTimezoneOffset();
  if (minutes === 0) return "local (UTC)";
  const sign = minutes < 0 ? "-" : "+";
  const h = Math.floor(Math.abs(minutes) / 60);
  const m = Math.abs(minutes) % 60;
  return `UTC${sign}${h}${m ? `:${pad(m)}` : ""}`;
}

/** Calls `listener()` after the zone changes. */
export const onTimeZone = (listener) => listeners.push(listener);

export function setTimeZone(value) {
  zone = value === "local" ? "local" : "utc";
  localStorage.setItem(KEY, zone);
  for (const listener of listeners) listener();
}
