export const HELP = `spms - operate an SPMS installation over its HTTP API

Usage: spms <group> <command> [arguments] [--json]

  devices list [--region R] [--customer C] [--profile P] [--search S] [--limit N] [--offset N]
  devices get <id|name>
  devices create <name> [device flags] [credential flags]
  devices update <id|name> [device flags] [--name NEW] [--unset FIELD]...
  devices delete <id|name>
  devices import <file.csv> [--dry-run]
  devices claim <id|name> (--secret S | --secret-env) [--customer C]   (assigns a device that sent
    a claim request to the customer: yours if your key's scope names one; --secret-env reads
    SPMS_CLAIM_SECRET)
  credentials rotate <id|name> <credential flags>
  credentials revoke <id|name>
  profiles list | get <id|name> | delete <id|name>
  profiles create <name> [profile flags] | update <id|name> [profile flags]
  api-keys create <name> [--role admin|operator|viewer] | list | revoke <id>
  firmware upload <file> --title T --version V [--algorithm SHA256|SHA384|SHA512|MD5|CRC32]
    [--checksum HEX] [--description D]   (streamed; the checksum is computed when omitted)
  firmware list [--title T] | show <id> | delete <id>
  firmware assign (--device <id|name> | --profile <id|name>) <firmware id | none>
  rollout create --firmware <id> [--region R] [--customer C] [--profile P] [--device D]...
    --waves 1,10,100 --max-concurrent N --failure-threshold 0.2 [--success-timeout S]
    | create --firmware <previous id> --rollback-of <rollout id> --waves 100 --max-concurrent N
    --failure-threshold F   (staged rollout in waves of cumulative percentages)
  rollout list [--status running|paused|completed|cancelled] | show <id> [--wave N] [--state S] [--limit N]
  rollout pause <id> | resume <id> | cancel <id>
  rpc send <id|name> <method> [params-json] [--oneway] [--timeout MS] [--persistent
    [--expiration 30m|12h|7d|ISO|epoch-ms] [--retries N] [--info JSON]]   (persistent: queued until
    the device connects; prints its rpc id)
  rpc list <id|name> [--status QUEUED|SENT|DELIVERED|SUCCESSFUL|TIMEOUT|EXPIRED|FAILED|CANCELLED]
    [--limit N] [--cursor C] | show <rpc id> | cancel <rpc id>
  import thingsboard --url URL (--username U --password P | --token JWT) [--since ISO] [--until ISO]
    [--device NAME]... [--customer TITLE] [--history none|lines|all] [--dry-run] [--report file.json]
    [--page-limit N] [--retry-delay-ms MS]   (devices with their credentials unchanged, then history)

Device flags: --label --region --customer --lat --lon --notes --hardware-status OK|DEGRADED|FAULTY|RETIRED
  --profile NAME --line N=LABEL (repeatable) --inactivity-timeout S --momentary-threshold S
  --voltage-min V --voltage-max V --alert-debounce S
  (--unset takes a flag name without dashes, e.g. --unset voltage-min, to go back to the profile value)
Credential flags: --token T (ACCESS_TOKEN) | --client-id C --username U --password P (MQTT_BASIC)
  --type ACCESS_TOKEN|MQTT_BASIC alone generates strong credentials; --generate forces a generated
  secret; --no-password stores MQTT_BASIC without a password. Generated secrets are printed once.
Profile flags: --name --description --transport MQTT|HTTP --inactivity-timeout --momentary-threshold
  --voltage-nominal --voltage-min --voltage-max --voltage-hysteresis --alert-debounce --default
  --provision-strategy allow_create|pre_provisioned|disabled --provision-key K --provision-region R
  --provision-customer C --provision-device-credentials yes|no --provision-secret-env (the secret is
  read from SPMS_PROVISION_SECRET, never from the command line; stored hashed, not shown again)

Environment: SPMS_API_URL (default http://127.0.0.1:8080), SPMS_API_KEY (required).
Exit codes: 0 ok, 1 the API refused the request, 2 bad usage, 3 API unreachable.`;
