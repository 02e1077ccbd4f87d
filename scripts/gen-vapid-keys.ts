// npm run gen-vapid-keys: prints a new VAPID key pair for .env (VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY).
// Without them the server generates a pair once and keeps it in DATA_DIR/leads.db; set them to
// keep the same pair across a fresh DATA_DIR (devices stay subscribed only with the same keys).
import webpush from 'web-push';

const { publicKey, privateKey } = webpush.generateVAPIDKeys();
process.stdout.write(`VAPID_PUBLIC_KEY=${publicKey}\nVAPID_PRIVATE_KEY=${privateKey}\n`);
