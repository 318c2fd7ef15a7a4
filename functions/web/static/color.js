// The merchant picks any accent colour; the pages keep text readable on it and with it (WCAG 2.2
// contrast: 4.5:1 for text). Two derived colours: the text colour on an accent background (black
// or white, whichever contrasts more; one of them always reaches 4.5:1), and an "ink" for accent
// text, borders and focus rings on the white page (the accent, darkened until it reaches 4.5:1).

const WHITE = [255, 255, 255];
const BLACK = [0, 0, 0];
export const DEFAULT_ACCENT = "#2F5BEA";

export function parse(hex) {
  const match = /^#?([0-9a-f]{6})$/i.exec(String(hex || "").trim());
  if (!match) return null;
  const value = Number.parseInt(match[1], 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

export function toHex(rgb) {
  return `#${rgb.map((c) => Math.round(c).toString(16).padStart(2, "0")).join("")}`;
}

function channel(c) {
  const s = c / 255;
  return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
}

export function luminance([r, g, b]) {
  return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
}

export function contrast(a, b) {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
  return (hi + 0.05) / (lo + 0.05);
}

function mix(rgb, toward, amount) {
  return rgb.map((c, i) => c + (toward[i] - c) * amount);
}

/** {accent, onAccent, ink} as #rrggbb for any accent colour (an invalid one falls back). */
export function palette(accentHex) {
  const accent = parse(accentHex) || parse(DEFAULT_ACCENT);
  const onAccent = contrast(accent, WHITE) >= contrast(accent, BLACK) ? WHITE : BLACK;
  let ink = accent;
  for (let step = 1; contrast(ink, WHITE) < 4.5 && step <= 20; step += 1) {
    ink = mix(accent, BLACK, step * 0.05);
  }
  return { accent: toHex(accent), onAccent: toHex(onAccent), ink: toHex(ink) };
}

/** Set the page's accent custom properties (CSSOM, which the CSP allows; no inline style). */
export function applyAccent(accentHex, root = document.documentElement) {
  const colours = palette(accentHex);
  root.style.setProperty("--accent", colours.accent);
  root.style.setProperty("--on-accent", colours.onAccent);
  root.style.setProperty("--accent-ink", colours.ink);
  return colours;
}
