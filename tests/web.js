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
      text = await page.evaluate(() => { const a = document.querySelectorAll('.msg.assistant'); return a.length ? a[a.length - 1].textContent.trim() : ''; });
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
    const history = await page.$$eval('.msg', ms => ms.map(m => m.className.split(' ')[1] + ': ' + m.textContent.trim()));
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

    // Markdown comes as elements; what the model wrote as HTML runs nothing.
    await page.fill('#text', 'show me markdown');
    await page.press('#text', 'Enter');
    await page.waitForFunction(() => !busy);
    const md = await page.evaluate(() => {
      const a = [...document.querySelectorAll('.msg.assistant')].pop();
      return { table: !!a.querySelector('table td'), code: a.querySelector('pre code')?.textContent.trim(),
        copy: !!a.querySelector('pre button'), bold: a.querySelector('strong')?.textContent,
        heading: a.querySelector('h2')?.textContent, script: !!a.querySelector('script, img, iframe'),
        ran: !!window.__pwned, jslink: !!a.querySelector('a[href^="javascript"]'),
        shown: a.textContent.includes('<script>') };
    });
    console.log('markdown ' + JSON.stringify(md));
    await page.screenshot({ path: process.env.SHOTS + '/web-wide.png' });
    // The terminal's conversation opens from the list, with its tool lines, and continues here.
    await page.fill('#q', '');
    await page.waitForSelector('#list a[data-key="cli:dchat"]');
    await page.click('#list a[data-key="cli:dchat"]');
    await page.waitForSelector('.msg.tool');
    const tools = await page.$$eval('.msg', ms => ms.map(m => m.className.split(' ')[1] + ': ' + m.textContent.trim()));
    console.log('terminal conversation ' + JSON.stringify(tools));
    await page.fill('#text', 'stream please');
    await page.press('#text', 'Enter');
    await page.waitForFunction(() => !busy);
    console.log('continued ' + await page.evaluate(() => [...document.querySelectorAll('.msg.assistant')].pop().textContent.trim()));
    // A search hit opens its conversation at the hit.
    await page.waitForSelector('#list a[data-key="web:default"]');
    await page.click('#list a[data-key="web:default"]');
    await page.waitForSelector('.msg.assistant');
    await page.fill('#q', 'mock');
    await page.waitForSelector('#list a[data-key="cli:d"] mark');
    await page.click('#list a[data-key="cli:d"]');
    await page.waitForSelector('.msg.hit');
    console.log('hit ' + await page.$eval('.msg.hit', m => m.className + ': ' + m.textContent.trim()));
    // A phone's width: nothing wider than the screen, the list in a drawer.
    await page.fill('#q', '');
    await page.setViewportSize({ width: 390, height: 800 });
    await page.waitForTimeout(300);
    const narrow = await page.evaluate(() => ({ overflow: document.documentElement.scrollWidth > innerWidth,
      drawer: getComputedStyle(document.querySelector('#menu')).display !== 'none',
      list: document.querySelector('aside').getBoundingClientRect().right <= 0 }));
    await page.screenshot({ path: process.env.SHOTS + '/web-390.png' });
    await page.click('#menu');
    await page.waitForTimeout(300);
    narrow.opened = await page.evaluate(() => document.querySelector('aside').getBoundingClientRect().left >= 0);
    await page.screenshot({ path: process.env.SHOTS + '/web-390-drawer.png' });
    console.log('narrow ' + JSON.stringify(narrow));
  } finally {
    await browser.close();
  }
})().catch(e => { console.error('web.js: ' + e.message); process.exit(1); });
