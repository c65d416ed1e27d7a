// web-image.js URL PEERS — pictures on the web page: one dropped on the
// chat and one pasted into the box wait above it as thumbnails (a
// screenshot in $SHOTS), go with the next message, show in it, and are
// there again after a reload (fetched from the inbox with the token);
// a file that only claims to be a picture gets a clear line. Prints one
// line per finding for daemon.sh.
'use strict';
const path = require('path');
const fs = require('fs');
const [url, peers, png] = process.argv.slice(2);
const { chromium } = require(path.join(path.resolve(peers), 'node_modules/playwright-core'));

// A file handed to the page as a drop on <main> or a paste into the box.
async function give(page, how, bytes, name, type) {
  await page.evaluate(([how, b64, name, type]) => {
    const bin = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
    const dt = new DataTransfer();
    dt.items.add(new File([bin], name, { type }));
    if (how === 'drop') {
      const main = document.querySelector('main');
      main.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
      main.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    } else {
      document.getElementById('text').dispatchEvent(new ClipboardEvent('paste', { clipboardData: dt, bubbles: true, cancelable: true }));
    }
  }, [how, bytes.toString('base64'), name, type]);
}

(async () => {
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.goto(url);
    await page.click('#new');
    const bytes = fs.readFileSync(png);
    await give(page, 'drop', bytes, 'red.png', 'image/png');
    await give(page, 'paste', bytes, 'pasted.png', 'image/png');
    await page.waitForFunction(() => document.querySelectorAll('#att img').length === 2);
    await page.fill('#text', 'what is in this picture?');
    if (process.env.SHOTS) await page.screenshot({ path: process.env.SHOTS + '/web-image.png' });
    console.log('waiting ' + await page.$$eval('#att img', i => i.length) + ' thumbnails, button ' + await page.$eval('#go', b => b.textContent));
    await page.press('#text', 'Enter');
    await page.waitForFunction(() => !busy, null, { timeout: 10000 });
    const answer = await page.$$eval('.msg.assistant', a => a[a.length - 1].textContent.trim());
    const shown = await page.$$eval('.msg.user', u => u[u.length - 1].querySelectorAll('img.pic').length);
    console.log('sent ' + shown + ' pictures, strip ' + await page.$$eval('#att img', i => i.length) + ', answer ' + JSON.stringify(answer));
    await page.reload();
    await page.waitForSelector('.msg.user img.pic');
    await page.waitForFunction(() => [...document.querySelectorAll('.msg.user img.pic')].every(i => i.complete && i.naturalWidth > 0));
    console.log('after reload ' + await page.$$eval('.msg.user img.pic', i => i.map(x => x.naturalWidth + 'x' + x.naturalHeight + ' ' + x.src.split(':')[0]).join(', ')));
    // not a picture, whatever its name says
    await give(page, 'drop', Buffer.from('just text, not a PNG'), 'fake.png', 'image/png');
    await page.waitForFunction(() => document.querySelectorAll('#att img').length === 1);
    await page.press('#text', 'Enter');
    await page.waitForFunction(() => !busy, null, { timeout: 10000 });
    console.log('fake ' + await page.$$eval('.msg.error', e => e[e.length - 1].textContent));
  } catch (e) {
    console.log('web-image.js: ' + e.message);
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
