// Stable colours: a run keeps its colour on every page and every visit (from its id).

const PALETTE = [
  '#2563eb', '#dc2626', '#16a34a', '#d97706', '#9333ea', '#0891b2', '#db2777', '#65a30d',
  '#ea580c', '#4f46e5', '#0d9488', '#be123c', '#7c3aed', '#ca8a04', '#0284c7', '#c026d3',
];

function hash(text) {
  let value = 2166136261;
  for (let i = 0; i < text.length; i++) {
    value ^= text.charCodeAt(i);
    value = Math.imul(value, 16777619);
  }
  return value >>> 0;
}

/** The colour of a run id; beyond the palette, a hue from the same hash. */
export function colorFor(id) {
  const value = hash(String(id));
  if (value % 3 !== 0) return PALETTE[value % PALETTE.length];
  return `hsl(${value % 360}, 65%, 48%)`;
}

/** The same colour, see-through (for raw lines behind smoothed ones and bands). */
export function faint(color, alpha) {
  const probe = document.createElement('canvas').getContext('2d');
  probe.fillStyle = color;
  const hex = probe.fillStyle; // normalised to #rrggbb
  const r = parseInt(hex.slice(1, 3), 16), g = parseInt(hex.slice(3, 5), 16), b = parseInt(hex.slice(5, 7), 16);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

export function theme() {
  const style = getComputedStyle(document.documentElement);
  return {
    fg: style.getPropertyValue('--fg-muted').trim() || '#666',
    grid: style.getPropertyValue('--grid').trim() || 'rgba(128,128,128,0.2)',
  };
}
