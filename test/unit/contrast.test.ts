import { describe, expect, test } from 'vitest';
import {
  contrastRatio,
  flatten,
  over,
  parseColor,
  relativeLuminance,
  requiredRatio,
  toHex,
} from '../contrast.ts';

const WHITE = { r: 255, g: 255, b: 255 };
const BLACK = { r: 0, g: 0, b: 0 };
const solid = (css: string) => ({ background: parseColor(css), opacity: 1 });
const clear = { background: parseColor('transparent'), opacity: 1 };

describe('the colour maths of the contrast check (WCAG 2.x)', () => {
  test('reads what getComputedStyle gives, and refuses what it cannot read', () => {
    expect(parseColor('rgb(31, 41, 51)')).toEqual({ r: 31, g: 41, b: 51, a: 1 });
    expect(parseColor('rgba(0, 0, 0, 0)')).toEqual({ r: 0, g: 0, b: 0, a: 0 });
    expect(parseColor('rgba(255, 255, 255, 0.5)')).toEqual({ r: 255, g: 255, b: 255, a: 0.5 });
    expect(parseColor('rgb(10 20 30 / 25%)')).toEqual({ r: 10, g: 20, b: 30, a: 0.25 });
    expect(parseColor('#777')).toEqual({ r: 0x77, g: 0x77, b: 0x77, a: 1 });
    expect(parseColor('#2f6feb')).toEqual({ r: 0x2f, g: 0x6f, b: 0xeb, a: 1 });
    expect(parseColor('transparent').a).toBe(0);
    expect(() => parseColor('color(display-p3 1 0 0)')).toThrow(/contrast check can read/);
    expect(() => parseColor('oklch(0.5 0.1 200)')).toThrow(/contrast check can read/);
    expect(() => parseColor('rgb(1, 2)')).toThrow(/contrast check can read/);
    expect(toHex(parseColor('rgb(47, 111, 235)'))).toBe('#2f6feb');
    expect(toHex(parseColor('rgba(0, 0, 0, 0.5)'))).toBe('#00000080');
  });

  test('relative luminance and the ratio: the values WCAG gives', () => {
    expect(relativeLuminance(WHITE)).toBe(1);
    expect(relativeLuminance(BLACK)).toBe(0);
    expect(contrastRatio(BLACK, WHITE)).toBeCloseTo(21, 10);
    expect(contrastRatio(WHITE, BLACK)).toBeCloseTo(21, 10);
    expect(contrastRatio(WHITE, WHITE)).toBe(1);
    // #777 on white is the classic near miss: 4.48:1, just under AA.
    expect(contrastRatio(parseColor('#777'), WHITE)).toBeCloseTo(4.48, 2);
    expect(contrastRatio(parseColor('#767676'), WHITE)).toBeGreaterThanOrEqual(4.5);
    // Pure red on white and pure blue on white.
    expect(contrastRatio(parseColor('#f00'), WHITE)).toBeCloseTo(4.0, 2);
    expect(contrastRatio(parseColor('#00f'), WHITE)).toBeCloseTo(8.59, 2);
  });

  test('large text (24 px, or 18.66 px bold) needs 3:1, other text 4.5:1', () => {
    expect(requiredRatio(14, 400)).toBe(4.5);
    expect(requiredRatio(24, 400)).toBe(3);
    expect(requiredRatio(20, 400)).toBe(4.5);
    expect(requiredRatio(20, 700)).toBe(3);
    expect(requiredRatio(18.66, 700)).toBe(3);
    expect(requiredRatio(18, 700)).toBe(4.5);
    expect(requiredRatio(26, 700)).toBe(3);
  });

  test('alpha compositing: translucent text and backgrounds blend into what is behind', () => {
    expect(over(parseColor('rgba(0, 0, 0, 0.5)'), WHITE)).toEqual({
      r: 127.5,
      g: 127.5,
      b: 127.5,
    });
    expect(over(parseColor('rgba(0, 0, 0, 0)'), WHITE)).toEqual(WHITE);
    expect(over(parseColor('#123456'), WHITE)).toEqual({ r: 0x12, g: 0x34, b: 0x56 });

    // Text on a transparent stack sees the canvas.
    expect(flatten(WHITE, [clear, clear], parseColor('#000'))).toEqual({
      foreground: BLACK,
      background: WHITE,
    });
    // The nearest opaque background wins over what is further up.
    const dark = flatten(WHITE, [solid('#000'), clear, solid('#1b2128')], parseColor('#e6e9ee'));
    expect(toHex(dark.background)).toBe('#1b2128');
    expect(toHex(dark.foreground)).toBe('#e6e9ee');
    // A half-transparent black background over white is mid grey; half-transparent white
    // text on it is lighter than it, by the same rule.
    const half = flatten(WHITE, [solid('rgba(0, 0, 0, 0.5)')], parseColor('rgba(255,255,255,.5)'));
    expect(half.background).toEqual({ r: 127.5, g: 127.5, b: 127.5 });
    expect(half.foreground).toEqual({ r: 191.25, g: 191.25, b: 191.25 });
  });

  test('opacity fades an element with its background and all it holds', () => {
    // Black text at opacity 0.5 on white: mid grey on white.
    const faded = flatten(WHITE, [solid('#fff'), { ...solid('#fff'), opacity: 0.5 }], {
      ...BLACK,
      a: 1,
    });
    expect(faded.foreground).toEqual({ r: 127.5, g: 127.5, b: 127.5 });
    expect(faded.background).toEqual(WHITE);
    // A black box at opacity 0.5 over white, holding white text: grey box, white text.
    const box = flatten(WHITE, [{ ...solid('#000'), opacity: 0.5 }], parseColor('#fff'));
    expect(box.background).toEqual({ r: 127.5, g: 127.5, b: 127.5 });
    expect(box.foreground).toEqual({ r: 255, g: 255, b: 255 });
    // Opacity 0 leaves only what is behind: no contrast at all.
    const gone = flatten(WHITE, [{ ...solid('#000'), opacity: 0 }], parseColor('#fff'));
    expect(contrastRatio(gone.foreground, gone.background)).toBe(1);
  });
});
