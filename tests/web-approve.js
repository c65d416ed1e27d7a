// web-approve.js URL PEERS — a call that needs approval, answered on the
// web page: the question comes with Allow and Deny buttons (a screenshot
// of it in $SHOTS), Allow lets the call run and the answer come, Deny
// refuses the next one. Prints one line per finding for daemon.sh.
'use strict';
const path = require('path');
const [url, peers] = process.argv.slice(2);
const { chromium } = require(path.join(path.resolve(peers), 'node_modules/playwright-core'));

async function act(page, button) {
  await page.fill('#text', 'act for me');
  await page.press('#text', 'Enter');
  await page.waitForSelector('.msg.approve button.allow', { timeout: 10000 });
  const asked = await page.$$eval('.msg.approve span', s => s[s.length - 1].textContent);
  const focused = await page.evaluate(() => document.activeElement.textContent);
  if (process.env.SHOTS && button === 'allow')
    await page.screenshot({ path: process.env.SHOTS + '/web-approve.png' });
  await page.click('.msg.approve button.' + button);
  await page.waitForFunction(() => !busy, null, { timeout: 10000 });
  const after = await page.$$eval('.msg.approve span', s => s[s.length - 1].textContent);
  const answer = await page.$$eval('.msg.assistant', a => a[a.length - 1].textContent.trim());
  console.log(button + ' asked ' + JSON.stringify(asked) + ' focus ' + focused + ' then ' + JSON.stringify(after) +
    ' answer ' + JSON.stringify(answer));
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.waitForSelector('#text');
    await act(page, 'allow');
    await act(page, 'deny');
  } finally {
    await browser.close();
  }
})().catch(e => { console.error(e); process.exit(1); });
