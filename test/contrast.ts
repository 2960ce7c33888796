/**
 * Colour maths for the contrast check of the digest (WCAG 2.x): parse a computed CSS colour,
 * flatten stacked translucent layers and opacity groups to the colours a reader sees, and
 * the contrast ratio those two colours have. Pure; the browser only reports computed styles.
 */

/** sRGB channels 0–255 and alpha 0–1. */
export interface Rgba {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly a: number;
}

/** An opaque colour. */
export type Rgb = Omit<Rgba, 'a'>;

/**
 * `rgb(1, 2, 3)`, `rgba(1, 2, 3, 0.5)`, `rgb(1 2 3 / 50%)`, `#abc`, `#aabbcc`, `#aabbccdd`,
 * `transparent`: what getComputedStyle gives for sRGB colours (and what a test writes).
 * Anything else (`color(display-p3 …)`, `oklch(…)`, a keyword) throws: a colour the check
 * cannot read must not pass unseen.
 */
export function parseColor(css: string): Rgba {
  const s = css.trim().toLowerCase();
  if (s === 'transparent') return { r: 0, g: 0, b: 0, a: 0 };
  const hex = /^#([0-9a-f]{3,4}|[0-9a-f]{6}|[0-9a-f]{8})$/.exec(s)?.[1];
  if (hex !== undefined) {
    const full = hex.length <= 4 ? hex.replace(/./g, (c) => c + c) : hex;
    const byte = (i: number): number => parseInt(full.slice(i * 2, i * 2 + 2), 16);
    return { r: byte(0), g: byte(1), b: byte(2), a: full.length === 8 ? byte(3) / 255 : 1 };
  }
  const fn = /^rgba?\(([^)]*)\)$/.exec(s)?.[1];
  if (fn !== undefined) {
    const parts = fn
      .replace('/', ' ')
      .split(/[\s,]+/)
      .filter((p) => p !== '');
    const num = (p: string | undefined, scale: number): number => {
      if (p === undefined) return NaN;
      return p.endsWith('%') ? (parseFloat(p) / 100) * scale : parseFloat(p);
    };
    const [r, g, b] = [num(parts[0], 255), num(parts[1], 255), num(parts[2], 255)];
    const a = parts.length > 3 ? num(parts[3], 1) : 1;
    if (parts.length >= 3 && parts.length <= 4 && [r, g, b, a].every(Number.isFinite)) {
      return { r, g, b, a: Math.max(0, Math.min(1, a)) };
    }
  }
  throw new Error(`not an sRGB colour the contrast check can read: ${css}`);
}

/** `#rrggbb`, or `#rrggbbaa` when translucent: for failure messages. */
export function toHex(c: Rgba | Rgb): string {
  const h = (v: number): string =>
    Math.round(Math.max(0, Math.min(255, v)))
      .toString(16)
      .padStart(2, '0');
  const a = 'a' in c && c.a < 1 ? h(c.a * 255) : '';
  return `#${h(c.r)}${h(c.g)}${h(c.b)}${a}`;
}

/** `top` painted over an opaque `bottom` (source-over alpha blending). */
export function over(top: Rgba, bottom: Rgb): Rgb {
  const mix = (t: number, b: number): number => t * top.a + b * (1 - top.a);
  return { r: mix(top.r, bottom.r), g: mix(top.g, bottom.g), b: mix(top.b, bottom.b) };
}

/** One element from the root down to the text's parent: its background and its opacity. */
export interface Layer {
  readonly background: Rgba;
  readonly opacity: number;
}

/** A premultiplied colour: channels already multiplied by alpha, so `over` is linear. */
interface Premul {
  readonly r: number;
  readonly g: number;
  readonly b: number;
  readonly a: number;
}

const premul = (c: Rgba): Premul => ({ r: c.r * c.a, g: c.g * c.a, b: c.b * c.a, a: c.a });
const CLEAR: Premul = { r: 0, g: 0, b: 0, a: 0 };
const pOver = (top: Premul, bottom: Premul): Premul => ({
  r: top.r + bottom.r * (1 - top.a),
  g: top.g + bottom.g * (1 - top.a),
  b: top.b + bottom.b * (1 - top.a),
  a: top.a + bottom.a * (1 - top.a),
});
const fade = (c: Premul, opacity: number): Premul => ({
  r: c.r * opacity,
  g: c.g * opacity,
  b: c.b * opacity,
  a: c.a * opacity,
});

/**
 * The two colours a reader sees, where a glyph is and right beside it: the text colour over
 * the backgrounds of its ancestors (`layers`, root first, the text's parent last), each
 * element an opacity group (CSS `opacity` fades its background and everything in it), all
 * over the opaque `canvas`.
 */
export function flatten(
  canvas: Rgb,
  layers: readonly Layer[],
  text: Rgba,
): { foreground: Rgb; background: Rgb } {
  const paint = (withText: boolean): Rgb => {
    let group: Premul = withText ? premul(text) : CLEAR;
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i] as Layer;
      group = fade(pOver(group, premul(layer.background)), layer.opacity);
    }
    const c = pOver(group, { ...canvas, a: 1 });
    return { r: c.r, g: c.g, b: c.b };
  };
  return { foreground: paint(true), background: paint(false) };
}

/** WCAG 2.x relative luminance of an sRGB colour. */
export function relativeLuminance(c: Rgb): number {
  const lin = (v: number): number => {
    const s = v / 255;
    return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * lin(c.r) + 0.7152 * lin(c.g) + 0.0722 * lin(c.b);
}

/** WCAG 2.x contrast ratio, 1 to 21, whichever colour is lighter. */
export function contrastRatio(a: Rgb, b: Rgb): number {
  const [hi, lo] = [relativeLuminance(a), relativeLuminance(b)].sort((x, y) => y - x) as [
    number,
    number,
  ];
  return (hi + 0.05) / (lo + 0.05);
}

/**
 * Large text in WCAG 2.x: 18 pt (24 px), or 14 pt (18.66 px) bold. Such text needs 3:1,
 * any other 4.5:1 (success criterion 1.4.3, level AA).
 */
export function requiredRatio(fontSizePx: number, fontWeight: number): 3 | 4.5 {
  const large = fontSizePx >= 24 || (fontSizePx >= 18.66 && fontWeight >= 700);
  return large ? 3 : 4.5;
}
