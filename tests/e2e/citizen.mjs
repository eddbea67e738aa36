// Browser test of the citizen's pages on slow links and for everyone (issue 18), driven by
// tests/tests/browser.rs `citizen_pages_light_and_accessible_in_chromium`.
//
// * Every page (public and officer) is checked with axe-core for WCAG 2.0/2.1/2.2 A and AA at 390 and 1280 px
//   (zero violations) and weighed: its HTML plus its stylesheets must stay under 30 KB before images.
// * The header menu fits on one line at 390 px; the report form's map opens on the node's area.
// * A citizen replies to the follow-up with a large photo: the public gets a display version of at most
//   1280 px, the officer the original.
// * The report form keeps what was typed when the connection drops and sends it by itself when it is back;
//   a draft comes back after leaving the page.
// * An anonymous report's pin is rounded to about 100 m for the public, exact for the node's staff.
//
// Environment: LAPOR_BASE, ADMIN_USER/ADMIN_PASS, OFFICER_USER/OFFICER_PASS, AGENCY_ID, SCREENSHOT_DIR.
// Prints `RESULT {...}`; exits non-zero on the first failure.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const BASE = process.env.LAPOR_BASE;
const SHOTS = process.env.SCREENSHOT_DIR || '';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const BUDGET = 30 * 1024;
const TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'];

function log(...args) { console.log('[citizen]', ...args); }

const checked = [];
const cssSizes = new Map();

/** HTML bytes of the response plus the bytes of every stylesheet the page links. */
async function weigh(page, response, name) {
  const html = (await response.body()).length;
  let css = 0;
  for (const href of await page.$$eval('link[rel=stylesheet]', (ls) => ls.map((l) => l.href))) {
    if (!cssSizes.has(href)) {
      const r = await page.context().request.get(href);
      cssSizes.set(href, (await r.body()).length);
    }
    css += cssSizes.get(href);
  }
  assert.ok(html + css < BUDGET, `${name}: ${html} B of HTML + ${css} B of CSS is over ${BUDGET} B`);
  return { html, css };
}

/** axe-core at both widths; any violation fails with its rule, impact and elements. */
async function axe(page, name) {
  const original = page.viewportSize();
  for (const vp of [PHONE, DESKTOP]) {
    await page.setViewportSize(vp);
    // Evaluated through the DevTools protocol, so the page's content security policy does not apply to it.
    if (!(await page.evaluate(() => typeof window.axe !== 'undefined'))) { await page.evaluate(AXE); }
    const res = await page.evaluate((tags) => window.axe.run(document, { runOnly: { type: 'tag', values: tags } }), TAGS);
    const problems = res.violations.map((v) =>
      `${v.id} (${v.impact}): ${v.help}\n    ${v.nodes.slice(0, 5).map((n) => n.target.join(' ') + ' ' + (n.failureSummary || '').replace(/\s+/g, ' ')).join('\n    ')}`);
    assert.equal(problems.length, 0, `axe at ${vp.width} px on ${name} (${page.url()}):\n  ${problems.join('\n  ')}`);
  }
  await page.setViewportSize(original);
}

/** Both checks for the page a navigation produced. */
async function check(page, response, name) {
  assert.ok(response, `${name}: a response`);
  const w = await weigh(page, response, name);
  await axe(page, name);
  checked.push({ name, ...w });
  log('checked', name, w.html + w.css, 'B');
}

async function visit(page, url, name, status = 200) {
  const resp = await page.goto(`${BASE}${url}`);
  assert.equal(resp.status(), status, `${url} answers ${status}`);
  await check(page, resp, name);
}

/** Clicks something that submits a form and checks the page that comes back. */
async function submitAndCheck(page, click, name) {
  const [resp] = await Promise.all([page.waitForNavigation(), click()]);
  await check(page, resp, name);
  return resp;
}

async function shot(page, name) {
  if (!SHOTS) { return; }
  const original = page.viewportSize();
  for (const vp of [PHONE, DESKTOP]) {
    await page.setViewportSize(vp);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${vp.width}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}

const tiles = [];
async function newContext(browser, viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'id-ID' });
  const tile = Buffer.from(
    'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8+P9/PQAI8gN3mLqqwgAAAABJRU5ErkJggg==', 'base64');
  await ctx.route('https://tile.openstreetmap.org/**', (r) => {
    tiles.push(r.request().url());
    return r.fulfill({ status: 200, contentType: 'image/png', body: tile });
  });
  return ctx;
}

async function login(page, user, pass) {
  await page.goto(`${BASE}/officer/login`);
  await page.fill('#f-username', user);
  await page.fill('#f-password', pass);
  await Promise.all([page.waitForURL(`${BASE}/officer`), page.click('button[type=submit]')]);
}

async function photo(page, w, h, colour) {
  const dataUrl = await page.evaluate(([w, h, c]) => {
    const canvas = document.createElement('canvas');
    canvas.width = w; canvas.height = h;
    const g = canvas.getContext('2d');
    g.fillStyle = c; g.fillRect(0, 0, w, h);
    g.fillStyle = '#333'; g.fillRect(w / 3, h / 3, w / 3, h / 3);
    return canvas.toDataURL('image/jpeg', 0.9);
  }, [w, h, colour]);
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

async function naturalSize(page, url) {
  return page.evaluate(async (u) => {
    const img = new Image(); img.src = u; await img.decode(); return [img.naturalWidth, img.naturalHeight];
  }, url);
}

/** The header's menu is on one line: every entry's top within a few pixels of the first one's. */
async function menuOnOneLine(page, name) {
  await page.setViewportSize(PHONE);
  const mids = await page.$$eval('header.top nav > *', (els) => els.map((e) => {
    const r = e.getBoundingClientRect(); return (r.top + r.bottom) / 2;
  }));
  assert.ok(mids.length >= 3, `${name}: the menu has entries`);
  assert.ok(mids.every((m) => Math.abs(m - mids[0]) < 4), `${name}: the menu wraps at 390 px (${mids.join(', ')})`);
}

async function fillReport(page, title, body) {
  await page.check('#f-kind-complaint');
  await page.fill('#f-title', title);
  await page.fill('#f-body', body);
  await page.selectOption('#f-category', 'infrastruktur');
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking'],
});
const result = {};
try {
  const citizenCtx = await newContext(browser, PHONE);
  const citizen = await citizenCtx.newPage();

  // ---- public pages -------------------------------------------------------------------------------
  await visit(citizen, '/', 'home');
  await menuOnOneLine(citizen, 'home');
  await shot(citizen, 'header-menu');
  await visit(citizen, '/report', 'report form');
  // The map opens on the node's area (its region in the boundary file), not on all of Indonesia.
  assert.ok(await citizen.getAttribute('#map', 'data-bounds'), 'the map has the node\'s bounds');
  await citizen.waitForFunction(() => document.querySelectorAll('#map .leaflet-tile').length > 0);
  const zooms = tiles.map((u) => Number(u.split('/').at(-3)));
  assert.ok(zooms.some((z) => z >= 10), `the map opens zoomed on the city (tile zooms ${[...new Set(zooms)]})`);
  await shot(citizen, 'report-form-map');
  await submitAndCheck(citizen, () => citizen.click('form[action="/report"] button[type=submit]'), 'report form with errors');
  await citizen.waitForSelector('#errors');
  await visit(citizen, '/track', 'track form');
  await visit(citizen, '/reports', 'public list (empty)');
  await visit(citizen, '/stats', 'public statistics');
  await visit(citizen, '/officer/login', 'officer login');
  await visit(citizen, '/track/KPG-TIDAKADA00', 'not found', 404);

  // ---- a report with a pin, typed in; the confirmation page -------------------------------------
  await citizen.goto(`${BASE}/report`);
  await fillReport(citizen, 'Saluran air tersumbat di Jl. Timor Raya',
    'Saluran air di Jl. Timor Raya tersumbat sampah sehingga air meluap ke jalan setiap hujan.');
  await citizen.fill('#f-lat', '-10.177249');
  await citizen.fill('#f-lon', '123.607777');
  await citizen.fill('#f-reporter-name', 'Yohana Bria');
  await citizen.fill('#f-reporter-phone', '+6281339000111');
  await submitAndCheck(citizen, () => citizen.click('form[action="/report"] button[type=submit]'), 'report created');
  const main = (await citizen.textContent('#tracking-code')).trim();
  result.main = main;

  // Plurals: one public report reads "1 report" in English, "1 laporan" in Indonesian.
  await citizen.goto(`${BASE}/reports?lang=en`);
  assert.ok((await citizen.textContent('main')).includes('1 report'), 'English singular');
  assert.ok(!(await citizen.textContent('main')).includes('1 reports'), 'no "1 reports"');
  await citizen.goto(`${BASE}/reports?lang=id`);
  assert.ok((await citizen.textContent('main')).includes('1 laporan'), 'Indonesian count');
  await visit(citizen, '/reports', 'public list');
  await visit(citizen, `/track/${main}`, 'track page (reporter)');

  // ---- an anonymous report: the public sees its pin rounded, the node's staff exactly ------------
  const anonCtx = await newContext(browser, PHONE);
  const anonPage = await anonCtx.newPage();
  await anonPage.goto(`${BASE}/report`);
  await fillReport(anonPage, 'Lampu jalan mati di Jl. Adisucipto',
    'Tiga lampu jalan di Jl. Adisucipto dekat bundaran mati sejak minggu lalu, jalan gelap di malam hari.');
  await anonPage.fill('#f-lat', '-10.163251');
  await anonPage.fill('#f-lon', '123.621749');
  await anonPage.check('#f-anonymous');
  await Promise.all([anonPage.waitForSelector('#tracking-code'), anonPage.click('form[action="/report"] button[type=submit]')]);
  const anon = (await anonPage.textContent('#tracking-code')).trim();
  result.anonymous = anon;
  const pubCtx = await newContext(browser, DESKTOP);
  const pub = await pubCtx.newPage();
  await visit(pub, `/track/${anon}`, 'track page (public, anonymous)');
  const pubText = await pub.textContent('main');
  assert.ok(pubText.includes('-10.163000, 123.622000'), 'the public pin is rounded to 0.001°');
  assert.ok(!pubText.includes('163251'), 'the exact latitude is not public');
  assert.ok(pubText.includes('dibulatkan sekitar 100 m'), 'the page says it is rounded');
  assert.equal(await pub.getAttribute('#map', 'data-lat'), '-10.163');
  await shot(pub, 'track-anonymous-rounded');

  // ---- the officer pages --------------------------------------------------------------------------
  const adminCtx = await newContext(browser, DESKTOP);
  const admin = await adminCtx.newPage();
  await login(admin, process.env.ADMIN_USER, process.env.ADMIN_PASS);
  await visit(admin, '/officer', 'officer inbox');
  await menuOnOneLine(admin, 'officer inbox');
  await visit(admin, `/officer/reports/${anon}`, 'officer report page');
  assert.ok((await admin.textContent('main')).includes('-10.163251, 123.621749'), 'staff see the exact pin');
  await visit(admin, `/officer/reports/${main}`, 'officer report page (named)');
  await submitAndCheck(admin, async () => {
    await admin.locator('form[action$="/verify"] select[name=agency_id]').selectOption(process.env.AGENCY_ID);
    await admin.click('form[action$="/verify"] button[type=submit]');
  }, 'officer report page (verified)');
  await visit(admin, '/officer/new', 'officer log a report');
  await visit(admin, '/officer/dashboard', 'officer dashboard');
  const recap = await admin.getAttribute('a[href^="/officer/recap/"]', 'href');
  await visit(admin, recap, 'recap page');
  await visit(admin, '/officer/recaps', 'recap downloads');
  await visit(admin, '/officer/audit', 'audit log');

  const officerCtx = await newContext(browser, DESKTOP);
  const officer = await officerCtx.newPage();
  await login(officer, process.env.OFFICER_USER, process.env.OFFICER_PASS);
  await officer.goto(`${BASE}/officer/reports/${main}`);
  await Promise.all([officer.waitForLoadState('load'), officer.click('form[action$="/acknowledge"] button[type=submit]')]);
  await officer.fill('form[action$="/respond"] textarea[name=note]', 'Saluran sudah dibersihkan oleh tim Dinas PUPR.');
  await Promise.all([officer.waitForNavigation(), officer.click('form[action$="/respond"] button[type=submit]')]);

  // ---- the citizen replies with a large photo ----------------------------------------------------
  await visit(citizen, `/track/${main}`, 'track page (reply form)');
  const big = await photo(citizen, 2000, 1500, '#5dade2');
  await citizen.fill('#f-reply-note', 'Saluran di ujung jalan masih tersumbat, lihat foto.');
  await citizen.setInputFiles('#f-reply-files', { name: 'saluran.jpg', mimeType: 'image/jpeg', buffer: big });
  await shot(citizen, 'track-reply-photo');
  await Promise.all([citizen.waitForNavigation(), citizen.click('form[action$="/reply"] button[type=submit]')]);
  assert.ok((await citizen.textContent('main')).includes('Sedang diproses'), 'the reply reopened the report');
  const thumb = await citizen.getAttribute('.thumbs img', 'src');
  assert.ok(thumb && thumb.endsWith('?size=display'), `the thumbnail is the display version (${thumb})`);
  assert.deepEqual(await naturalSize(citizen, thumb), [1280, 960], 'display version at most 1280 px');
  const href = await citizen.getAttribute('.thumbs a', 'href');
  assert.deepEqual(await naturalSize(citizen, href), [1280, 960], 'the public link is the display version too');
  await shot(citizen, 'track-reply-sent');
  // The officer finds the reply's photo and opens the original.
  await officer.goto(`${BASE}/officer/reports/${main}`);
  const officerHref = await officer.getAttribute('.thumbs a', 'href');
  assert.deepEqual(await naturalSize(officer, officerHref), [2000, 1500], 'staff get the original');
  result.reply_photo = officerHref;

  // A file that is not a photo is refused by its content and nothing changes.
  await officer.fill('form[action$="/respond"] textarea[name=note]', 'Ujung jalan juga sudah dibersihkan.');
  await Promise.all([officer.waitForNavigation(), officer.click('form[action$="/respond"] button[type=submit]')]);
  await citizen.goto(`${BASE}/track/${main}`);
  await citizen.fill('#f-reply-note', 'Ini bukan foto.');
  await citizen.setInputFiles('#f-reply-files', { name: 'foto.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('<html>bukan</html>') });
  const refused = await submitAndCheck(citizen, () => citizen.click('form[action$="/reply"] button[type=submit]'), 'track page (refused file)');
  assert.equal(refused.status(), 422);
  assert.ok((await citizen.textContent('main')).includes('foto.jpg: jenis berkas tidak diterima'));
  assert.ok((await citizen.textContent('main')).includes('Ditindaklanjuti'), 'the report did not change');

  // ---- the draft survives a dropped connection ----------------------------------------------------
  const draftCtx = await newContext(browser, PHONE);
  const draft = await draftCtx.newPage();
  await draft.goto(`${BASE}/report`);
  const title = 'Pipa PDAM bocor di Kelurahan Oesapa';
  await fillReport(draft, title, 'Pipa PDAM di depan pasar Oesapa bocor, air terbuang sejak pagi dan jalan tergenang.');
  await draft.setInputFiles('#f-files', { name: 'pipa.jpg', mimeType: 'image/jpeg', buffer: await photo(draft, 640, 480, '#48c9b0') });
  await draftCtx.setOffline(true);
  await draft.click('form[action="/report"] button[type=submit]');
  await draft.waitForSelector('#draft-status:not([hidden])');
  assert.ok((await draft.textContent('#draft-status')).includes('akan dikirim otomatis'), 'the page says it will be sent');
  const kept = await draft.evaluate(() => JSON.parse(localStorage.getItem('lapor-draft:report')));
  assert.equal(kept.fields.title, title);
  assert.equal(kept.pending, true);
  assert.equal(draft.url(), `${BASE}/report`, 'still on the form');
  await shot(draft, 'report-offline');
  // The connection comes back: the report goes out by itself, photo included.
  await draftCtx.setOffline(false);
  await draft.waitForSelector('#tracking-code');
  result.drafted = (await draft.textContent('#tracking-code')).trim();
  // The confirmation page removes the draft.
  await draft.waitForFunction(() => localStorage.getItem('lapor-draft:report') === null);
  // Leaving the page keeps the draft; coming back restores it with a message.
  await draft.goto(`${BASE}/report`);
  await draft.fill('#f-title', 'Jembatan kayu rusak di Oesao');
  await draft.fill('#f-body', 'Papan jembatan kayu patah.');
  await draft.waitForFunction(() => (localStorage.getItem('lapor-draft:report') || '').includes('Oesao'));
  await draft.goto(`${BASE}/reports`);
  await draft.goto(`${BASE}/report`);
  await draft.waitForSelector('#draft-status:not([hidden])');
  assert.equal(await draft.inputValue('#f-title'), 'Jembatan kayu rusak di Oesao');
  await shot(draft, 'report-draft-restored');
  await axe(draft, 'report form (draft restored)');

  log('pages', JSON.stringify(checked));
  result.pages = checked;
  console.log('RESULT ' + JSON.stringify(result));
} finally {
  await browser.close();
}
