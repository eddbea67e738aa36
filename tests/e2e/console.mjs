// Browser tests of the officer console across nodes, driven by tests/tests/browser.rs:
//
// * SCENARIO=transfer: a citizen files a report with a photo on SRC; SRC's admin transfers it through the
//   console to the node DST_NODE (chosen from the directory, with the reason), follows its progress and sees
//   where it went; SRC's inbox no longer lists it and its tracking page names the new owner. DST's admin finds
//   it in the inbox, verifies it with other reports in one bulk action (per-report results), and DST's agency
//   officer finds it in their inbox.
// * SCENARIO=ombudsman: on REG the admin escalates two verified reports early; the reporter of CODE_A agrees
//   on the tracking page and the report moves to the Ombudsman node OMB (its admin finds it in the inbox, the
//   hub's tracking page names the Ombudsman); the reporter of CODE_B declines, and the refusal shows on the
//   tracking page and in the console while the report stays on REG.
//
// SCREENSHOT_DIR: screenshots of each new screen at 390 and 1280 px. Prints `RESULT {...}`; exits non-zero on
// the first failure.

import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import path from 'node:path';

const SHOTS = process.env.SCREENSHOT_DIR || '';
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };
const PASS = process.env.ADMIN_PASS;
const WAIT_MS = 90_000;

function log(...args) { console.log('[console]', ...args); }

async function shot(page, name) {
  if (!SHOTS) { return; }
  const original = page.viewportSize();
  for (const vp of [PHONE, DESKTOP]) {
    await page.setViewportSize(vp);
    await page.screenshot({ path: path.join(SHOTS, `${name}-${vp.width}.png`), fullPage: true });
  }
  await page.setViewportSize(original);
}

async function context(browser, viewport) {
  const ctx = await browser.newContext({ viewport, locale: 'id-ID' });
  await ctx.route('https://tile.openstreetmap.org/**', (r) => r.fulfill({ status: 404, body: '' }));
  return ctx;
}

async function text(page) { return page.textContent('body'); }

async function expectText(page, wanted) {
  assert.ok((await text(page)).includes(wanted), `expected "${wanted}" on ${page.url()}`);
}

async function login(page, base, user, pass) {
  await page.goto(`${base}/officer/login`);
  await page.fill('#f-username', user);
  await page.fill('#f-password', pass);
  await Promise.all([page.waitForURL(`${base}/officer`), page.click('button[type=submit]')]);
}

/** Reloads `url` until `check(page)` holds (the federation moves reports in the background). */
async function until(page, url, what, check) {
  const end = Date.now() + WAIT_MS;
  for (;;) {
    await page.goto(url);
    if (await check(page)) { return; }
    if (Date.now() > end) { throw new Error(`waited for ${what} on ${url}`); }
    await page.waitForTimeout(500);
  }
}

async function submit(page, formSelector) {
  await Promise.all([page.waitForLoadState('load'), page.locator(`${formSelector} button[type=submit]`).first().click()]);
}

async function photo(page) {
  const dataUrl = await page.evaluate(() => {
    const c = document.createElement('canvas');
    c.width = 320; c.height = 200;
    const g = c.getContext('2d');
    g.fillStyle = '#a9cce3'; g.fillRect(0, 0, 320, 200);
    g.fillStyle = '#333'; g.fillRect(100, 60, 120, 80);
    return c.toDataURL('image/jpeg', 0.8);
  });
  return Buffer.from(dataUrl.split(',')[1], 'base64');
}

async function trackWithSecret(page, base, code, secret) {
  await page.goto(`${base}/track`);
  await page.fill('#f-code', code);
  await page.fill('#f-secret', secret);
  await Promise.all([page.waitForURL(`${base}/track/${code}`), page.click('form[action="/track"] button')]);
}

// ---- transfer between nodes ---------------------------------------------------------------------------

async function transferScenario(browser, result) {
  const SRC = process.env.SRC_BASE;
  const DST = process.env.DST_BASE;
  const dstNode = process.env.DST_NODE;

  // The citizen files on SRC with a photo and their contact.
  const citizenCtx = await context(browser, PHONE);
  const citizen = await citizenCtx.newPage();
  await citizen.goto(`${SRC}/report`);
  await citizen.check('#f-kind-complaint');
  await citizen.fill('#f-title', 'Jembatan kayu di Desa Oelnasi rusak');
  await citizen.fill('#f-body', 'Jembatan kayu penghubung Desa Oelnasi patah di tengah, anak sekolah harus memutar jauh.');
  await citizen.selectOption('#f-category', 'infrastruktur');
  await citizen.fill('#f-region_code', '53.71');
  await citizen.setInputFiles('#f-files', { name: 'jembatan.jpg', mimeType: 'image/jpeg', buffer: await photo(citizen) });
  await citizen.fill('#f-reporter-name', 'Yakobus Tefa');
  await citizen.fill('#f-reporter-phone', '+6281339004455');
  await citizen.click('form[action="/report"] button[type=submit]');
  await citizen.waitForSelector('#tracking-code');
  const code = (await citizen.textContent('#tracking-code')).trim();
  result.transferred = code;
  log('filed', code);

  // SRC's admin sees photo and contact, and transfers it to DST through the console.
  const adminCtx = await context(browser, DESKTOP);
  const admin = await adminCtx.newPage();
  await login(admin, SRC, 'admin', PASS);
  // The source learns the target from the hub's signed directory (refreshed every 2 s in the test).
  await until(admin, `${SRC}/officer/reports/${code}`, `${dstNode} in the directory`,
    async (p) => (await p.locator(`form[action$="/move"] option[value="${dstNode}"]`).count()) > 0);
  await expectText(admin, 'Yakobus Tefa');
  assert.equal(await admin.locator('.thumbs img').count(), 1, 'the photo is on the source node');
  const form = admin.locator('form[action$="/move"]');
  await form.waitFor();
  const options = await form.locator('select[name=to_node] option').evaluateAll((os) => os.map((o) => o.value));
  assert.ok(options.includes(dstNode), `the directory offers ${dstNode}: ${options}`);
  assert.ok(options.includes('hub'), 'the directory offers the hub');
  // Without a reason text the form is refused with a message, and nothing moves.
  await form.locator('select[name=to_node]').selectOption(dstNode);
  await form.locator('textarea[name=note]').evaluate((t) => t.removeAttribute('required'));
  await submit(admin, 'form[action$="/move"]');
  await admin.waitForSelector('.alert.error');
  assert.equal(await admin.locator('#h-transfer').count(), 0, 'a refused form opens no transfer');
  await shot(admin, 'officer-transfer-form');
  await admin.locator('form[action$="/move"] select[name=to_node]').selectOption(dstNode);
  await admin.locator('form[action$="/move"] select[name=reason]').selectOption('misrouted');
  await admin.locator('form[action$="/move"] textarea[name=note]').fill('Lokasi jembatan di wilayah Kabupaten Kupang, bukan Kota Kupang.');
  await submit(admin, 'form[action$="/move"]');
  await admin.waitForSelector('#h-transfer');
  result.first_state = await admin.getAttribute('#transfer-state', 'data-state');
  assert.ok(['offered', 'forwarded', 'accepted', 'committed'].includes(result.first_state), result.first_state);
  // While it moves, no second transfer and no lifecycle action is offered.
  assert.equal(await admin.locator('form[action$="/move"]').count(), 0);
  await shot(admin, 'officer-transfer-progress');

  // It arrives: SRC shows where it went, and its inbox no longer lists it.
  await until(admin, `${SRC}/officer/reports/${code}`, 'the transfer to commit', async (p) => (await p.locator('#moved').count()) > 0);
  assert.equal(await admin.getAttribute('#transfer-state', 'data-state'), 'committed');
  assert.equal(await admin.locator('form[action$="/verify"]').count(), 0, 'no actions on a report that moved');
  await shot(admin, 'officer-transfer-moved');
  await admin.goto(`${SRC}/officer`);
  assert.ok(!(await text(admin)).includes(code), 'the old owner\'s inbox no longer lists it');
  await admin.goto(`${SRC}/officer?status=submitted,verified,in_progress`);
  assert.ok(!(await text(admin)).includes(code), 'not with a status filter either');

  // The citizen's tracking page on SRC names the new owner.
  await citizen.goto(`${SRC}/track/${code}`);
  await citizen.waitForSelector('#moved');
  await expectText(citizen, dstNode);
  await shot(citizen, 'track-moved');

  // DST's admin finds it in the inbox, with the arrival note.
  const dstCtx = await context(browser, DESKTOP);
  const dst = await dstCtx.newPage();
  await login(dst, DST, 'admin', PASS);
  await until(dst, `${DST}/officer`, 'the report in the target\'s inbox', async (p) => (await text(p)).includes(code));
  await dst.goto(`${DST}/officer/reports/${code}`);
  await expectText(dst, 'Jembatan kayu di Desa Oelnasi rusak');
  await expectText(dst, 'Lokasi jembatan di wilayah Kabupaten Kupang');
  result.target_photo = await dst.locator('.thumbs img').count();
  result.target_contact = (await text(dst)).includes('Yakobus Tefa');

  // Bulk: DST's admin verifies the arrival and the other waiting reports at once.
  await dst.goto(`${DST}/officer`);
  await dst.click('a[href="/officer/bulk"]');
  const boxes = dst.locator('form[action="/officer/bulk"] input[name=report]');
  const values = await boxes.evaluateAll((bs) => bs.map((b) => b.value));
  assert.ok(values.includes(code), `the bulk form lists ${code}: ${values}`);
  const bulk = [code, ...process.env.BULK_CODES.split(',')];
  for (const c of bulk) { await dst.check(`#b-${c}`); }
  // Without an agency the bulk form is refused with a message naming the field.
  await submit(dst, 'form[action="/officer/bulk"]');
  await dst.waitForSelector('#errors');
  await shot(dst, 'officer-bulk');
  for (const c of bulk) { await dst.check(`#b-${c}`); }
  await dst.selectOption('form[action="/officer/bulk"] select[name=agency_id]', process.env.DST_AGENCY);
  await submit(dst, 'form[action="/officer/bulk"]');
  await dst.waitForSelector('#h-results');
  for (const c of bulk) {
    assert.equal(await dst.getAttribute(`.results li[data-code="${c}"]`, 'class'), 'ok', `bulk result of ${c}`);
  }
  await shot(dst, 'officer-bulk-results');
  // A forged bulk post without the CSRF token is refused.
  const forged = await dstCtx.request.post(`${DST}/officer/bulk`, { form: { report: code, agency_id: process.env.DST_AGENCY } });
  assert.equal(forged.status(), 403);

  // DST's agency officer finds it in their inbox.
  const offCtx = await context(browser, DESKTOP);
  const officer = await offCtx.newPage();
  await login(officer, DST, process.env.DST_OFFICER, process.env.DST_OFFICER_PASS);
  await expectText(officer, code);
  await officer.goto(`${DST}/officer/reports/${code}`);
  await expectText(officer, 'Terverifikasi');
  result.officer_photo = await officer.locator('.thumbs img').count();
  result.officer_contact = (await text(officer)).includes('Yakobus Tefa');
}

// ---- Ombudsman escalation -----------------------------------------------------------------------------

async function ombudsmanScenario(browser, result) {
  const REG = process.env.REG_BASE;
  const OMB = process.env.OMB_BASE;
  const HUB = process.env.HUB_BASE;
  const [codeA, secretA] = [process.env.CODE_A, process.env.SECRET_A];
  const [codeB, secretB] = [process.env.CODE_B, process.env.SECRET_B];

  const adminCtx = await context(browser, DESKTOP);
  const admin = await adminCtx.newPage();
  await login(admin, REG, 'admin', PASS);
  await until(admin, `${REG}/officer/reports/${codeA}`, 'the Ombudsman node in the directory',
    async (p) => (await p.locator(`form[action$="/move"] option[value="${process.env.OMB_NODE}"]`).count()) > 0);
  for (const code of [codeA, codeB]) {
    await admin.goto(`${REG}/officer/reports/${code}`);
    await admin.locator('form[action$="/escalate"] textarea[name=note]').fill('Instansi tidak menindaklanjuti meski sudah diingatkan dua kali.');
    if (code === codeA) { await shot(admin, 'officer-escalate'); }
    await submit(admin, 'form[action$="/escalate"]');
    assert.equal(await admin.getAttribute('#escalation', 'data-state'), 'awaiting_consent');
    assert.equal(await admin.locator('form[action$="/escalate"]').count(), 0, 'escalated once');
  }
  await shot(admin, 'officer-escalation-awaiting');

  // Reporter A agrees on the tracking page; the report moves to the Ombudsman node.
  const aCtx = await context(browser, PHONE);
  const a = await aCtx.newPage();
  await trackWithSecret(a, REG, codeA, secretA);
  await a.waitForSelector('form#escalation');
  await shot(a, 'track-ombudsman-consent');
  await Promise.all([a.waitForLoadState('load'), a.click('form#escalation button[value=yes]')]);
  await expectText(a, 'Pelapor setuju');
  await until(a, `${REG}/track/${codeA}`, 'the handoff to the Ombudsman', async (p) => (await p.locator('#moved').count()) > 0);
  await expectText(a, process.env.OMB_NODE);
  await shot(a, 'track-ombudsman-moved');

  // The Ombudsman's admin receives it like any owner: in the inbox, waiting for verification.
  const ombCtx = await context(browser, DESKTOP);
  const omb = await ombCtx.newPage();
  await login(omb, OMB, 'admin', PASS);
  await until(omb, `${OMB}/officer`, 'the report in the Ombudsman\'s inbox', async (p) => (await text(p)).includes(codeA));
  await omb.goto(`${OMB}/officer/reports/${codeA}`);
  await expectText(omb, 'Eskalasi ke Ombudsman dengan persetujuan pelapor');
  await expectText(omb, 'Pelapor setuju laporan diteruskan ke Ombudsman');
  assert.ok((await omb.locator('form[action$="/verify"]').count()) > 0, 'the Ombudsman acts on it');
  await shot(omb, 'officer-ombudsman-received');
  // The region's console shows where it went; the hub's tracking page names the Ombudsman.
  await until(admin, `${REG}/officer/reports/${codeA}`, 'the moved notice', async (p) => (await p.locator('#moved').count()) > 0);
  const hub = await aCtx.newPage();
  await until(hub, `${HUB}/track/${codeA}`, 'the hub to name the new owner', async (p) => (await text(p)).includes(process.env.OMB_NODE));

  // Reporter B declines: the report stays, and the refusal shows on both sides.
  const bCtx = await context(browser, PHONE);
  const b = await bCtx.newPage();
  await trackWithSecret(b, REG, codeB, secretB);
  await Promise.all([b.waitForLoadState('load'), b.click('form#escalation button[value=no]')]);
  assert.equal(await b.getAttribute('#escalation', 'data-state'), 'declined');
  await expectText(b, 'Pelapor menolak penerusan ke Ombudsman');
  assert.equal(await b.locator('#moved').count(), 0);
  assert.equal(await b.locator('form#escalation').count(), 0, 'asked once');
  await shot(b, 'track-ombudsman-declined');
  await admin.goto(`${REG}/officer/reports/${codeB}`);
  assert.equal(await admin.getAttribute('#escalation', 'data-state'), 'declined');
  await expectText(admin, 'Pelapor menolak penerusan ke Ombudsman');
  assert.ok((await admin.locator('form[action$="/respond"]').count()) > 0, 'the region still acts on it');
  await shot(admin, 'officer-escalation-declined');
  result.consented = codeA;
  result.declined = codeB;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking'],
});
const result = {};
try {
  if (process.env.SCENARIO === 'transfer') {
    await transferScenario(browser, result);
  } else if (process.env.SCENARIO === 'ombudsman') {
    await ombudsmanScenario(browser, result);
  } else {
    throw new Error(`unknown SCENARIO ${process.env.SCENARIO}`);
  }
  console.log('RESULT ' + JSON.stringify(result));
} finally {
  await browser.close();
}
