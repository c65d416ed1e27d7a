// web.js URL PEERS — drives the web chat in headless Chromium (Debian's
// chromium through playwright-core), as a person would: open the link
// `daimon web` printed, type a message, watch the answer stream in, reload
// and find the conversation again, search it. Prints one line per finding
// for daemon.sh to check; exits non-zero if the page could not be driven.
'use strict';
const path = require('path');
const [url, peers] = process.argv.slice(2);
const { chromium } = require(path.join(path.resolve(peers), 'node_modules/playwright-core'));

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    console.log('landed ' + new URL(page.url()).pathname + (page.url().includes('token=') ? ' with the token in the URL' : ''));
    await page.fill('#text', 'stream please');
    await page.press('#text', 'Enter');
    // Watch the answer grow: a partial answer seen before the whole one is streaming.
    const seen = new Set();
    let text = '';
    for (let i = 0; i < 1000; i++) {
      text = await page.evaluate(() => { const a = document.querySelectorAll('.msg.assistant'); return a.length ? a[a.length - 1].textContent : ''; });
      if (text) seen.add(text);
      if (text.endsWith('one by one.')) break;
      await page.waitForTimeout(10);
    }
    console.log('answer ' + JSON.stringify(text));
    console.log('partials ' + [...seen].filter(t => t !== text).length);
    // The last words can stream before the turn has ended (its answer logged
    // and on the disk): reload once the page has heard "done".
    await page.waitForFunction(() => !busy);
    await page.reload();
    await page.waitForSelector('.msg.assistant');
    const history = await page.$$eval('.msg', ms => ms.map(m => m.className.split(' ')[1] + ': ' + m.textContent));
    console.log('after reload ' + JSON.stringify(history));
    await page.fill('#q', 'arrive');
    await page.waitForSelector('#list mark');
    console.log('search ' + await page.$eval('#list a', a => a.innerHTML));
    // A long answer, stopped with the button it turns into.
    await page.fill('#text', 'go on at length');
    await page.press('#text', 'Enter');
    await page.waitForFunction(() => { const a = document.querySelectorAll('.msg.assistant'); return a.length && a[a.length - 1].textContent.length > 0; });
    const during = await page.$eval('#go', b => b.textContent);
    await page.click('#go');
    await page.waitForFunction(() => !busy, null, { timeout: 10000 });
    const said = await page.$$eval('.msg.error', ms => ms.length ? ms[ms.length - 1].textContent : '');
    console.log('stop button ' + during + ', then ' + await page.$eval('#go', b => b.textContent) + ': ' + said);
  } finally {
    await browser.close();
  }
})().catch(e => { console.error('web.js: ' + e.message); process.exit(1); });
