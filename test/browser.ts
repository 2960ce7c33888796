import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';

/**
 * The browser the rendering test drives: one already on the machine, never a download.
 * `CHROMIUM_PATH` or `CHROME_PATH` first, then Chromium or Google Chrome where Debian,
 * Ubuntu, Fedora, Snap, macOS and Windows put them.
 */
export function browserCandidates(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): string[] {
  if (platform === 'darwin') {
    const apps = ['/Applications', join(homedir(), 'Applications')];
    return apps.flatMap((dir) => [
      join(dir, 'Chromium.app/Contents/MacOS/Chromium'),
      join(dir, 'Google Chrome.app/Contents/MacOS/Google Chrome'),
    ]);
  }
  if (platform === 'win32') {
    const roots = [env.PROGRAMFILES, env['PROGRAMFILES(X86)'], env.LOCALAPPDATA].filter(
      (r): r is string => !!r,
    );
    return roots.flatMap((r) => [
      join(r, 'Chromium', 'Application', 'chrome.exe'),
      join(r, 'Google', 'Chrome', 'Application', 'chrome.exe'),
    ]);
  }
  return [
    '/usr/bin/chromium',
    '/usr/bin/chromium-browser',
    '/snap/bin/chromium',
    '/usr/bin/google-chrome',
    '/usr/bin/google-chrome-stable',
    '/opt/google/chrome/chrome',
  ];
}

/** How to get a browser, on one line. */
export const NO_BROWSER =
  'no Chromium or Chrome found for the rendering test: set CHROMIUM_PATH to one, or install one (Debian/Ubuntu: sudo apt-get install chromium; Fedora: sudo dnf install chromium; macOS: brew install --cask chromium, or Google Chrome; Windows: Google Chrome)';

/** The browser's path, or an Error whose message says what to do. */
export function findBrowser(
  platform: NodeJS.Platform = process.platform,
  env: NodeJS.ProcessEnv = process.env,
  exists: (path: string) => boolean = existsSync,
): string | Error {
  for (const name of ['CHROMIUM_PATH', 'CHROME_PATH'] as const) {
    const path = env[name];
    if (path === undefined || path === '') continue;
    return exists(path) ? path : new Error(`${name} is set to ${path}, which does not exist`);
  }
  return browserCandidates(platform, env).find((p) => exists(p)) ?? new Error(NO_BROWSER);
}

/**
 * Starts the machine's browser for the rendering tests, offline: no sandbox, no GPU, no
 * background networking. Throws NO_BROWSER's one line when there is none.
 */
export async function launchBrowser(): Promise<Browser> {
  const path = findBrowser();
  if (path instanceof Error) throw path;
  return chromium.launch({
    executablePath: path,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
