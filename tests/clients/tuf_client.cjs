// A plain tuf-js client, as a site's Node.js updater would use it:
// bootstrap from a trusted root.json, refresh, download one target.
//
// usage: NODE_PATH=… node tuf_client.cjs BASE_URL ROOT_JSON TARGET_PATH WORK_DIR
// Exit 0 and print the downloaded file's path; exit 1 on any refusal.
const fs = require('node:fs');
const path = require('node:path');
const { Updater } = require('tuf-js');

async function main() {
  const [base, rootJson, target, work] = process.argv.slice(2);
  const metadataDir = path.join(work, 'metadata');
  const targetDir = path.join(work, 'targets');
  fs.mkdirSync(metadataDir, { recursive: true });
  fs.mkdirSync(targetDir, { recursive: true });
  if (!fs.existsSync(path.join(metadataDir, 'root.json'))) {
    fs.copyFileSync(rootJson, path.join(metadataDir, 'root.json'));
  }
  const updater = new Updater({
    metadataDir,
    metadataBaseUrl: base.replace(/\/$/, '') + '/tuf',
    targetBaseUrl: base.replace(/\/$/, ''),
    targetDir,
  });
  try {
    await updater.refresh();
    const info = await updater.getTargetInfo(target);
    if (!info) {
      console.error(`${target}: not in the targets metadata`);
      return 1;
    }
    const out = await updater.downloadTarget(info, path.join(targetDir, path.basename(target)));
    console.log(out);
    return 0;
  } catch (e) {
    console.error(`refused: ${e.name}: ${e.message}`);
    return 1;
  }
}

main().then((code) => process.exit(code));
