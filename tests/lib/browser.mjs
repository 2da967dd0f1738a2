// browser.mjs — headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) for the dashboard's page tests.
//
//   const b = await launch(sys);             // one browser; b.page is a fresh, isolated session
//   await b.signIn('a@example.com', 'pw');   // through /login; lands on /dashboard
//   const other = await b.newPage();         // another isolated session (own cookies)
//   await b.screenshot('dashboard');         // docs/screenshots/dashboard.png
//   await b.close();
//
// Every page has its own browser context, so cookies (the session, the CSRF
// cookie) never leak between the "people" of a test.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
export const SCREENSHOT_DIR = new URL('../../docs/screenshots', import.meta.url).pathname;

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export class Browser {
  constructor(sys, browser) {
    this.sys = sys;
    this.browser = browser;
    this.contexts = [];
    this.page = null;
  }

  // A new page in its own context (no cookies); a phone-sized viewport with
  // { phone: true }; relative URLs resolve against baseURL (default: the system's).
  async newPage({ phone = false, baseURL = this.sys.url } = {}) {
    const ctx = await this.browser.newContext({
      baseURL,
      viewport: phone ? { width: 390, height: 800 } : { width: 1200, height: 800 },
    });
    this.contexts.push(ctx);
    const page = await ctx.newPage();
    page.setDefaultTimeout(20000);
    return page;
  }

  // Signs in through /login on page (default b.page); resolves on the page
  // the sign-in leads to (/dashboard, or next).
  async signIn(email, password, { page = this.page, next } = {}) {
    await page.goto(next ? `/login?next=${encodeURIComponent(next)}` : '/login');
    await page.fill('#email', email);
    await page.fill('#password', password);
    await Promise.all([page.waitForLoadState('load'), page.click('button[type=submit]:has-text("Sign in")')]);
    return page;
  }

  // Signs out with the navigation's button.
  async signOut({ page = this.page } = {}) {
    await page.click('header button:has-text("Sign out")');
    await page.waitForURL(/\/login/);
  }

  // The CSRF token of the forms on the page (the signed-in session's).
  async csrf({ page = this.page } = {}) {
    return page.locator('input[name=csrf_token]').first().getAttribute('value');
  }

  // A PNG of the page into docs/screenshots/<name>.png (the README's tour).
  async screenshot(name, { page = this.page, fullPage = true } = {}) {
    mkdirSync(SCREENSHOT_DIR, { recursive: true });
    const path = join(SCREENSHOT_DIR, `${name}.png`);
    await page.screenshot({ path, fullPage });
    return path;
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
    await this.browser.close();
  }
}

// Starts Chromium for the system sys (anything with .url); b.page is ready.
export async function launch(sys) {
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
  const b = new Browser(sys, browser);
  b.page = await b.newPage();
  return b;
}
