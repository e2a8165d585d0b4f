import { mkdirSync } from 'node:fs'
import path from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'

/** Debian's chromium (npm test installs it); never `npx playwright install` (no downloads here). */
export const CHROMIUM_PATH = '/usr/bin/chromium'

/** Where browser tests save screenshots (gitignored: tests/artifacts/). */
export const ARTIFACTS_DIR = path.resolve('tests/artifacts/console')

/** Headless Chromium; stop it with `browser.close()`. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}

/** Save a full-page screenshot as a test artifact and print where it is. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true })
  const file = path.join(ARTIFACTS_DIR, `${name}.png`)
  await page.screenshot({ path: file, fullPage: true })
  console.log(`screenshot: ${file}`)
  return file
}
