import { describe, expect, test } from 'vitest';
import { findBrowser, NO_BROWSER } from '../browser.ts';

describe('the rendering test finds a browser already on the machine', () => {
  const only =
    (...paths: string[]) =>
    (p: string) =>
      paths.includes(p);

  test('CHROMIUM_PATH, then CHROME_PATH, win; a variable naming nothing is said so', () => {
    expect(findBrowser('linux', { CHROMIUM_PATH: '/x/chromium' }, only('/x/chromium'))).toBe(
      '/x/chromium',
    );
    expect(
      findBrowser('linux', { CHROME_PATH: '/y/chrome' }, only('/y/chrome', '/usr/bin/chromium')),
    ).toBe('/y/chrome');
    expect(
      String(findBrowser('linux', { CHROMIUM_PATH: '/nope' }, only('/usr/bin/chromium'))),
    ).toBe('Error: CHROMIUM_PATH is set to /nope, which does not exist');
  });

  test('the usual places on Linux, macOS and Windows', () => {
    expect(findBrowser('linux', {}, only('/usr/bin/chromium'))).toBe('/usr/bin/chromium');
    expect(findBrowser('linux', {}, only('/usr/bin/google-chrome-stable'))).toBe(
      '/usr/bin/google-chrome-stable',
    );
    const mac = '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome';
    expect(findBrowser('darwin', {}, only(mac))).toBe(mac);
    const win = 'C:\\Program Files/Google/Chrome/Application/chrome.exe';
    expect(
      findBrowser(
        'win32',
        { PROGRAMFILES: 'C:\\Program Files' },
        (p) => p.replaceAll('\\', '/') === win.replaceAll('\\', '/'),
      ),
    ).not.toBeInstanceOf(Error);
  });

  test('none: one line that says how to get one on each system', () => {
    const none = findBrowser('linux', {}, () => false);
    expect(none).toBeInstanceOf(Error);
    expect((none as Error).message).toBe(NO_BROWSER);
    expect(NO_BROWSER).not.toContain('\n');
    expect(NO_BROWSER).toMatch(/apt-get install chromium.*brew install --cask chromium.*Windows/);
  });
});
