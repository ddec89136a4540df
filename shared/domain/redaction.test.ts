import { describe, expect, it } from 'vitest';
import {
  compositeAlarmSuppressedEvent,
  fargateSpotInterruptionEvent,
  fargateSpotPlacementFailureEvent,
  fargateSpotTerminationNoticeEvent,
  serviceDeploymentCompletedEvent,
  serviceSteadyStateEvent,
} from '../testing/aws-doc-events.ts';
import { redact, redactDeep } from './redaction.ts';
import { signatureFor } from './signatures.ts';

/**
 * Token shapes as their issuers document them; the live-looking ones are
 * assembled from parts so that no scanner mistakes this file for a leak.
 * - AWS: access key ids AKIA… (long-term) / ASIA… (temporary), 20 characters;
 *   40-character secret keys; the IAM and STS guides' EXAMPLE keys.
 * - GitHub: ghp_/gho_/ghu_/ghs_/ghr_ + 36 [A-Za-z0-9]; github_pat_ + 22 + _ + 59.
 * - Slack: xoxb- (bot), xoxp- (user), xapp- (app-level) tokens; incoming
 *   webhooks at hooks.slack.com/services/T…/B…/….
 * - Stripe: sk_live_/rk_live_ (secret and restricted keys).
 * - Google API keys: AIza + 35 characters. npm: npm_ + 36. SendGrid: SG.<22>.<43>.
 * - JWT: the RFC 7519 / jwt.io example. Bearer: RFC 6750's example token.
 *   Basic: MDN's example. Token: Django REST framework's example.
 */
const j = (...parts: string[]) => parts.join('');
const awsKeyId = 'AKIAIOSFODNN7EXAMPLE';
const awsTempKeyId = 'ASIAIOSFODNN7EXAMPLE';
const awsSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const awsSessionToken =
  'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDbVa7aO5tq+1FwEXAMPLEzXJrOSNvE3Wm/0vUd5mVx2gIgXq==';
const ghp = j('ghp_', 'A1bC2dE3fH4iJ5kL6mN7oP8qR9sT0uVwXy3z');
const gho = j('gho_', '16C7e42F292c6912E7710c838347Ae178B4a');
const ghs = j('ghs_', 'Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa');
const githubPat = j(
  'github_pat_',
  '11ABCDEFG0abcdefghijkl',
  '_',
  'MNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHI',
);
const xoxb = j('xoxb-', '17653672481-19874698323-', 'pdFZKVeTuE8sk7oOcBrzbqgy');
const xoxp = j('xoxp-', '23984754863-2348975623103-', '2348975623104-', '4f2a6c1e9b0d7a3f5e8c2b1d0a9f8e7d');
const xapp = j(
  'xapp-1-',
  'A0123456789-',
  '1234567890123-',
  '0c7f3d9e2a1b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d',
);
const slackHookSecret = 'XXXXXXXXXXXXXXXXXXXXXXXX';
const skLive = j('sk_', 'live_', '4eC39HqLyjWDarjtT1zdp7dc');
const rkLive = j('rk_', 'live_', '51H8xLpQ2nZk7TgE4vRb9Wc3Ym6Ds1Fa');
const googleKey = j('AIza', 'SyB41DRUbKWJHPxaFjMAwdrzWzbVKartNGg');
const npmToken = j('npm_', 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8');
const sendgrid = j('SG.', 'ngeVfQFYQlKU0ufo8x5d1A', '.', 'TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr');
const jwt =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
const ecrPassword =
  'eyJwYXlsb2FkIjoiZ0VYQU1QTEVwYXlsb2FkMTIzNDU2Nzg5MCIsImRhdGFrZXkiOiJBUUVCQUhoOTAiLCJ2ZXJzaW9uIjoiMiJ9';
const pemBody1 = 'MIIEowIBAAKCAQEAvJ3rJ8YxFgY8r6n3p0S2j1QmWc3kL0aB7sT9uV4wX5yZ6A8bC1dE';
const pemBody2 = 'q9Fh2Ks7Lm4Np1Qr8St5Uv2Wx9Yz6Ab3Cd0Ef7Gh4Ij1Kl8Mn5Op2Qr9St6Uv3Wx0Y';
const pemBody3 = 'Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5d2FsZG9wbHVnaDAxMjM0';
const sshBody = 'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW';

/** [what, line, the secrets it holds, the context that must survive]. */
const leaky: [what: string, line: string, secrets: string[], kept: string[]][] = [
  // — Environment dumps and shell.
  ['env DB_PASSWORD', 'DB_PASSWORD=Xk9#mPq2vL7z', ['Xk9#mPq2vL7z'], ['DB_PASSWORD=']],
  [
    'export AWS_SECRET_ACCESS_KEY',
    `export AWS_SECRET_ACCESS_KEY=${awsSecret}`,
    [awsSecret],
    ['export AWS_SECRET_ACCESS_KEY='],
  ],
  ['export AWS_ACCESS_KEY_ID', `export AWS_ACCESS_KEY_ID=${awsKeyId}`, [awsKeyId], ['AWS_ACCESS_KEY_ID=']],
  [
    'env AWS_SESSION_TOKEN',
    `AWS_SESSION_TOKEN=${awsSessionToken}`,
    [awsSessionToken],
    ['AWS_SESSION_TOKEN='],
  ],
  [
    'compose environment POSTGRES_PASSWORD',
    '      - POSTGRES_PASSWORD=pg-Secr3t-2024',
    ['pg-Secr3t-2024'],
    ['- POSTGRES_PASSWORD='],
  ],
  [
    'Rails SECRET_KEY_BASE',
    'SECRET_KEY_BASE=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c',
    ['9f86d081884c7d659a2feaa0c55ad015'],
    ['SECRET_KEY_BASE='],
  ],
  [
    'set -x trace of PGPASSWORD',
    '+ PGPASSWORD=trace-Pa55 psql -h db -U app shop',
    ['trace-Pa55'],
    ['+ PGPASSWORD=', 'psql -h db -U app shop'],
  ],
  [
    'camelCase jwtSecret',
    'config loaded jwtSecret=hs256-Kq8vN3xZ port=8080',
    ['hs256-Kq8vN3xZ'],
    ['config loaded jwtSecret=', 'port=8080'],
  ],
  [
    'REDIS_AUTH_TOKEN',
    'REDIS_AUTH_TOKEN=r3dis-Auth-T0ken-77',
    ['r3dis-Auth-T0ken-77'],
    ['REDIS_AUTH_TOKEN='],
  ],
  // — AWS credentials files and STS answers.
  [
    'ini aws_secret_access_key',
    `aws_secret_access_key = ${awsSecret}`,
    [awsSecret],
    ['aws_secret_access_key = '],
  ],
  [
    'ini aws_session_token',
    `aws_session_token=${awsSessionToken}`,
    [awsSessionToken],
    ['aws_session_token='],
  ],
  [
    'STS credentials JSON',
    `{"Credentials":{"AccessKeyId":"${awsTempKeyId}","SecretAccessKey":"${awsSecret}","SessionToken":"${awsSessionToken}","Expiration":"2024-05-01T12:00:00Z"}}`,
    [awsTempKeyId, awsSecret, awsSessionToken],
    ['"AccessKeyId":', '"SecretAccessKey":', '"SessionToken":', '"Expiration":"2024-05-01T12:00:00Z"'],
  ],
  [
    'SigV4 Authorization header',
    `Authorization: AWS4-HMAC-SHA256 Credential=${awsKeyId}/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-date, Signature=fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024`,
    [awsKeyId, 'fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024'],
    ['Authorization: AWS4-HMAC-SHA256', 'SignedHeaders=host;range;x-amz-date', 'Signature='],
  ],
  [
    'S3 presigned URL',
    `GET https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${awsKeyId}%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404 403`,
    [awsKeyId, 'aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404'],
    [
      'GET https://examplebucket.s3.amazonaws.com/test.txt?',
      'X-Amz-Expires=86400',
      'X-Amz-Signature=',
      ' 403',
    ],
  ],
  [
    'x-amz-security-token header',
    `x-amz-security-token: ${awsSessionToken}`,
    [awsSessionToken],
    ['x-amz-security-token:'],
  ],
  // — JSON, YAML, properties, language dumps.
  [
    'JSON clientSecret',
    '{"level":"info","msg":"oauth config loaded","clientId":"web-app","clientSecret":"8Q~kR2vZp.4mXq_7LtYw3N"}',
    ['8Q~kR2vZp.4mXq_7LtYw3N'],
    ['"msg":"oauth config loaded"', '"clientId":"web-app"', '"clientSecret":'],
  ],
  [
    'JSON password with spaces',
    '{"user": "app", "password": "correct horse battery staple", "db": "shop"}',
    ['correct horse battery staple', 'horse battery'],
    ['"user": "app"', '"password": ', '"db": "shop"'],
  ],
  [
    'JSON client_secret',
    '{"client_id": "homeostat", "client_secret": "c1i3nt-S3cr3t-value"}',
    ['c1i3nt-S3cr3t-value'],
    ['"client_id": "homeostat"', '"client_secret":'],
  ],
  [
    'JSON inside a JSON log message',
    '{"message":"request body {\\"user\\":\\"app\\",\\"password\\":\\"hunter2!x\\"}","status":401}',
    ['hunter2!x'],
    ['\\"user\\":\\"app\\"', '\\"password\\":', '"status":401'],
  ],
  [
    'YAML api_key',
    'api_key: 9f8e7d6c5b4a39281706f5e4d3c2b1a0',
    ['9f8e7d6c5b4a39281706f5e4d3c2b1a0'],
    ['api_key: '],
  ],
  ['YAML indented password', '    password: "s3cr3t-P@ss"', ['s3cr3t-P@ss'], ['    password: ']],
  [
    'properties spring.datasource.password',
    'spring.datasource.password=Tr0ub4dor-3x',
    ['Tr0ub4dor-3x'],
    ['spring.datasource.password='],
  ],
  [
    'Go struct dump',
    'config: {Host:db Port:5432 User:app Password:pgS3cret-go SSLMode:require}',
    ['pgS3cret-go'],
    ['{Host:db Port:5432 User:app Password:', 'SSLMode:require}'],
  ],
  [
    'Java map toString',
    'datasource {url=jdbc:postgresql://db:5432/shop, username=app, password=j4va-Secret}',
    ['j4va-Secret'],
    ['url=jdbc:postgresql://db:5432/shop', 'username=app', 'password=', ']}'],
  ],
  [
    'Python repr',
    "settings {'user': 'app', 'passwd': 'py-Secr3t'}",
    ['py-Secr3t'],
    ["'user': 'app'", "'passwd': "],
  ],
  [
    'logfmt quoted password',
    'level=error msg="db connect failed" user=app password="p@ss word9" host=db',
    ['p@ss word9', 'word9'],
    ['msg="db connect failed"', 'user=app', 'password=', 'host=db'],
  ],
  [
    '.NET connection string',
    'Server=tcp:db.example.com,1433;Database=shop;User ID=app;Password=Net-S3cret!;Encrypt=True;',
    ['Net-S3cret!'],
    ['Server=tcp:db.example.com,1433;Database=shop;User ID=app;Password=', ';Encrypt=True;'],
  ],
  [
    'x-api-key header',
    'x-api-key: 2f5ae96c-b558-4c7b-a590-a501ae1c3f6c',
    ['2f5ae96c-b558-4c7b-a590-a501ae1c3f6c'],
    ['x-api-key:'],
  ],
  [
    'query access_token',
    'GET /oauth/callback?state=xyz&access_token=at-9k2LmQ8zR4 200',
    ['at-9k2LmQ8zR4'],
    ['GET /oauth/callback?state=xyz&access_token=', ' 200'],
  ],
  // — URLs with credentials.
  [
    'postgres URL',
    'connecting to postgres://app:S3cr3tPass@db.internal:5432/shop',
    ['S3cr3tPass'],
    ['connecting to postgres://app:', '@db.internal:5432/shop'],
  ],
  [
    'DATABASE_URL mysql',
    'DATABASE_URL=mysql://root:r00tPa55@10.0.3.7:3306/orders',
    ['r00tPa55'],
    ['DATABASE_URL=mysql://root:', '@10.0.3.7:3306/orders'],
  ],
  [
    'redis URL without user',
    'redis: dial redis://:redisPa55word@cache.internal:6379/0 failed',
    ['redisPa55word'],
    ['redis: dial redis://:', '@cache.internal:6379/0 failed'],
  ],
  [
    'mongodb+srv URL',
    'MongoServerSelectionError: mongodb+srv://admin:M0ngoPa55@cluster0.example.mongodb.net/app?retryWrites=true',
    ['M0ngoPa55'],
    ['MongoServerSelectionError: mongodb+srv://admin:', '@cluster0.example.mongodb.net/app?retryWrites=true'],
  ],
  // — HTTP authorization and cookies.
  [
    'Authorization Bearer (RFC 6750)',
    'Authorization: Bearer mF_9.B5f-4.1JqM',
    ['mF_9.B5f-4.1JqM'],
    ['Authorization: Bearer'],
  ],
  [
    'Authorization Token (DRF)',
    'Authorization: Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b',
    ['9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b'],
    ['Authorization: Token'],
  ],
  [
    'Authorization Basic (MDN)',
    'Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l',
    ['YWxhZGRpbjpvcGVuc2VzYW1l'],
    ['Authorization: Basic'],
  ],
  [
    'Proxy-Authorization Basic',
    'Proxy-Authorization: Basic dXNlcjpwcm94eS1wYXNz',
    ['dXNlcjpwcm94eS1wYXNz'],
    ['Proxy-Authorization: Basic'],
  ],
  [
    'headers object with a bearer JWT',
    `upstream 401 headers={"authorization":"Bearer ${jwt}","x-request-id":"7f8e9d0c-1b2a-4c3d-8e4f-5a6b7c8d9e0f"}`,
    [jwt, 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'],
    ['upstream 401 headers=', '"authorization":', '"x-request-id":"7f8e9d0c-1b2a-4c3d-8e4f-5a6b7c8d9e0f"'],
  ],
  [
    'Cookie header',
    `Cookie: session=${jwt}; csrftoken=u32t4o3tb3gg43; theme=dark`,
    [jwt, 'u32t4o3tb3gg43'],
    ['Cookie: session=', 'csrftoken='],
  ],
  [
    'Set-Cookie (MDN)',
    'Set-Cookie: sessionid=38afes7a8; HttpOnly; Path=/',
    ['38afes7a8'],
    ['Set-Cookie: sessionid=', '; HttpOnly; Path=/'],
  ],
  // — Vendor tokens, wherever they appear.
  [
    'Slack bot token in env',
    `SLACK_BOT_TOKEN=${xoxb}`,
    [xoxb, 'pdFZKVeTuE8sk7oOcBrzbqgy'],
    ['SLACK_BOT_TOKEN='],
  ],
  [
    'Slack user token in prose',
    `slack: posting with ${xoxp} failed: invalid_auth`,
    [xoxp],
    ['slack: posting with', 'failed: invalid_auth'],
  ],
  [
    'Slack app-level token',
    `socket mode: connecting with ${xapp}`,
    [xapp, '0c7f3d9e2a1b4c5d6e7f8a9b0c1d2e3f'],
    ['socket mode: connecting with'],
  ],
  [
    'Slack incoming webhook',
    `POST https://hooks.slack.com/services/T00000000/B00000000/${slackHookSecret} 404 no_service`,
    [slackHookSecret],
    ['POST https://hooks.slack.com/services/', '404 no_service'],
  ],
  [
    'GitHub classic PAT in a git URL',
    `fatal: unable to access 'https://${ghp}@github.com/acme/shop.git/': The requested URL returned error: 403`,
    [ghp],
    ["fatal: unable to access 'https://", '@github.com/acme/shop.git/', 'returned error: 403'],
  ],
  ['GitHub OAuth token in env', `GITHUB_TOKEN=${gho}`, [gho], ['GITHUB_TOKEN=']],
  [
    'GitHub fine-grained PAT',
    `git clone https://x-access-token:${githubPat}@github.com/acme/infra.git`,
    [githubPat, '11ABCDEFG0abcdefghijkl'],
    ['git clone https://x-access-token:', '@github.com/acme/infra.git'],
  ],
  [
    'GitHub App token with a lowercase scheme',
    `Authorization: token ${ghs}`,
    [ghs],
    ['Authorization: token'],
  ],
  ['Stripe secret key', `stripe.api_key = '${skLive}'`, [skLive], ['stripe.api_key = ']],
  [
    'Stripe restricted key in prose',
    `charging customer cus_9s6XKzkNRiz8i3 with ${rkLive}`,
    [rkLive],
    ['charging customer cus_9s6XKzkNRiz8i3 with'],
  ],
  [
    'Google API key in a query',
    `GET https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key=${googleKey} 403`,
    [googleKey],
    ['https://maps.googleapis.com/maps/api/geocode/json?address=Berlin&key=', ' 403'],
  ],
  [
    'npm _authToken',
    `//registry.npmjs.org/:_authToken=${npmToken}`,
    [npmToken],
    ['//registry.npmjs.org/:_authToken='],
  ],
  [
    'npm token in prose',
    `npm ERR! 401 Unauthorized with ${npmToken}`,
    [npmToken],
    ['npm ERR! 401 Unauthorized with'],
  ],
  [
    'SendGrid key',
    `sendgrid: using key ${sendgrid}`,
    [sendgrid, 'TwL2iGABf9DHoTf-09kqeF8tAmbihYzrnopKc-1s5cr'],
    ['sendgrid: using key'],
  ],
  [
    'AWS key id in prose',
    `InvalidClientTokenId for key ${awsKeyId} in eu-west-1`,
    [awsKeyId],
    ['InvalidClientTokenId for key', 'in eu-west-1'],
  ],
  [
    'JWT in prose',
    `jwt verification ok for ${jwt} (exp 1516239022)`,
    [jwt, 'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c'],
    ['jwt verification ok for', '(exp 1516239022)'],
  ],
  // — Private keys.
  [
    'service-account JSON private_key',
    `{"type": "service_account", "private_key_id": "b1c2d3", "private_key": "-----BEGIN PRIVATE KEY-----\\n${pemBody1}\\n${pemBody2}\\n-----END PRIVATE KEY-----\\n", "client_email": "svc@project.iam.gserviceaccount.com"}`,
    [pemBody1, pemBody2],
    ['"type": "service_account"', '"private_key": ', '"client_email": "svc@project.iam.gserviceaccount.com"'],
  ],
  [
    'multi-line RSA PEM block',
    `loading TLS key\n-----BEGIN RSA PRIVATE KEY-----\n${pemBody1}\n${pemBody2}\n${pemBody3}\n-----END RSA PRIVATE KEY-----\nlistening on :8443`,
    [pemBody1, pemBody2, pemBody3],
    [
      'loading TLS key',
      '-----BEGIN RSA PRIVATE KEY-----',
      '-----END RSA PRIVATE KEY-----',
      'listening on :8443',
    ],
  ],
  [
    'OpenSSH key cut off before its END line',
    `loaded deploy key: -----BEGIN OPENSSH PRIVATE KEY-----\n${sshBody}`,
    [sshBody],
    ['loaded deploy key: -----BEGIN OPENSSH PRIVATE KEY-----'],
  ],
  ['a PEM body line logged as its own event', pemBody2, [pemBody2], ['[redacted']],
  // — Command lines.
  [
    '--password= flag',
    'exec: /usr/bin/pg_dump --host=db --username=app --password=Pg-dump-2024 shop',
    ['Pg-dump-2024'],
    ['exec: /usr/bin/pg_dump --host=db --username=app --password=', ' shop'],
  ],
  [
    'docker login --password value',
    `+ docker login --username AWS --password ${ecrPassword} 111122223333.dkr.ecr.us-east-1.amazonaws.com`,
    [ecrPassword],
    ['+ docker login --username AWS --password', '111122223333.dkr.ecr.us-east-1.amazonaws.com'],
  ],
  [
    '--db-password value then a flag',
    'migrate --db-password S3cret-migr8 --port 5432',
    ['S3cret-migr8'],
    ['migrate --db-password', '--port 5432'],
  ],
  [
    '--client-secret= flag',
    'oauth2-proxy --client-id=web --client-secret=ocs-Kx7Pq2Lm9',
    ['ocs-Kx7Pq2Lm9'],
    ['oauth2-proxy --client-id=web --client-secret='],
  ],
  // What a skeptical review found leaking (each shape from its language's or vendor's documentation).
  ['a Ruby hash rocket', 'config: {"password"=>"rb-H4shR0cket"}', ['rb-H4shR0cket'], ['{"password"=>']],
  ['a Ruby symbol key', 'connect(:password=>"sym-P4ss")', ['sym-P4ss'], ['connect(:password=>']],
  ['a Go short declaration', 'password := "go-Sh0rtDecl"', ['go-Sh0rtDecl'], ['password := ']],
  [
    'an XML element',
    '<dataSource><password>xml-Elem3nt</password></dataSource>',
    ['xml-Elem3nt'],
    ['<password>'],
  ],
  ['a PW abbreviation', 'export DB_PW=pw-Abbr3v', ['pw-Abbr3v'], ['export DB_PW=']],
  [
    'an ECS container definition environment entry',
    'environment: [{"name":"DB_PASSWORD","value":"ecs-EnvV4lue"},{"name":"LOG_LEVEL","value":"debug"}]',
    ['ecs-EnvV4lue'],
    ['"name":"DB_PASSWORD"', '{"name":"LOG_LEVEL","value":"debug"}'],
  ],
  [
    'an OpenAI project key',
    j('OPENAI key sk-', 'proj-', 'Ab12Cd34Ef56Gh78Ij90Kl12Mn34'),
    [j('sk-', 'proj-', 'Ab12Cd34Ef56Gh78Ij90Kl12Mn34')],
    ['OPENAI key'],
  ],
  [
    'an Anthropic key',
    j('using sk-', 'ant-api03-', 'Zy98Xw76Vu54Ts32Rq10Po98Nm76'),
    [j('ant-api03-', 'Zy98Xw76Vu54Ts32Rq10Po98Nm76')],
    ['using'],
  ],
  [
    'a Vault service token',
    j('VAULT_TOKEN is hv', 's.CAESIJqWx7Lm2Np4Qr6St8Uv0Wx'),
    [j('hv', 's.CAESIJqWx7Lm2Np4Qr6St8Uv0Wx')],
    ['VAULT_TOKEN is'],
  ],
];

/** Lines that must pass unchanged: diagnosis matches on them. */
const clean: [what: string, line: string][] = [
  ['a password reset', 'password reset requested for user 42'],
  ['a token bucket', 'token bucket refilled: 100 tokens available'],
  ['Postgres auth failure', 'FATAL: password authentication failed for user "app"'],
  ['an expired STS token', 'ExpiredTokenException: The security token included in the request is expired'],
  ['an S3 error code', 'ExpiredToken: The provided token has expired.'],
  ['a JWT library error', 'invalid token: signature verification failed'],
  [
    'a SigV4 clock skew',
    'InvalidSignatureException: Signature expired: 20130524T000000Z is now earlier than 20130524T001500Z',
  ],
  ['model token counts', 'bedrock usage max_tokens=1024 input_tokens=812 token_type=bearer'],
  ['a secret file path', 'DB_PASSWORD_FILE=/run/secrets/db_password'],
  ['authentication words', 'Basic authentication required; Bearer authentication failed for client web-app'],
  ['a task ARN', 'arn:aws:ecs:us-east-1:111122223333:task/prod/0f7e1c2d3b4a45e6a7b8c9d0e1f2a3b4 stopped'],
  [
    'an image digest',
    'Pulled image 111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/api@sha256:5b0bcabd1ed22e9fb1310cf6c2dec7cdef19f0ad69efa1f392e94a4333501270',
  ],
  ['a request id', 'RequestId: 7f8e9d0c-1b2a-4c3d-8e4f-5a6b7c8d9e0f Duration: 12.3 ms'],
  [
    'an X-Ray trace header',
    'x-amzn-trace-id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
  ],
  [
    'a task definition secret reference',
    '"secrets":[{"name":"DB_PASSWORD","valueFrom":"arn:aws:secretsmanager:us-east-1:111122223333:secret:prod/db-AbCdEf"}]',
  ],
  [
    'a service event',
    '(service api) (task 0f7e1c2d3b4a45e6a7b8c9d0e1f2a3b4) failed container health checks.',
  ],
  ['an OOM stop', 'OutOfMemoryError: Container killed due to memory usage'],
  ['a Spot interruption', 'SpotInterruption: Your Spot Task was interrupted.'],
  [
    'a 403 pull failure',
    'CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref 111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/api:1.4.2: unexpected status from HEAD request to https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/shop/api/manifests/1.4.2: 403 Forbidden',
  ],
  [
    'a private registry pull failure',
    "CannotPullContainerError: Error response from daemon: pull access denied for shop/api, repository does not exist or may require 'docker login'",
  ],
  [
    'a secret the execution role cannot read',
    'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:111122223333:secret:db from secrets manager: AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/ecsTaskExecutionRole/abc is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:111122223333:secret:db',
  ],
  [
    'a secret without the JSON key',
    'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): retrieved secret from Secrets Manager did not contain json key password',
  ],
  [
    'an unreachable ECR',
    'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post "https://api.ecr.us-east-1.amazonaws.com/": dial tcp 10.0.0.1:443: i/o timeout. Please check your task network configuration.',
  ],
  ['a connection refused', 'Error: connect ECONNREFUSED 10.0.3.7:5432'],
];

describe('redact: secrets out, context kept', () => {
  it('has the table the issue asks for', () => {
    expect(leaky.length).toBeGreaterThanOrEqual(40);
    expect(clean.length).toBeGreaterThanOrEqual(8);
  });

  it.each(leaky)('%s', (_what, line, secrets, kept) => {
    const out = redact(line, 10_000);
    expect({
      leaked: secrets.filter((s) => out.includes(s)),
      lost: kept.filter((k) => !out.includes(k)),
    }).toEqual({ leaked: [], lost: [] });
  });

  it.each(clean)('leaves %s unchanged', (_what, line) => {
    expect(redact(line, 10_000)).toBe(line);
  });

  it('keeps every ECS signature match', () => {
    for (const [, line] of clean) expect(signatureFor(redact(line, 10_000))?.id).toBe(signatureFor(line)?.id);
  });

  it('is idempotent', () => {
    for (const [, line] of leaky) {
      const once = redact(line, 10_000);
      expect(redact(once, 10_000)).toBe(once);
    }
  });

  it('bounds a line after redacting it', () => {
    expect(redact('x'.repeat(2_000), 100)).toHaveLength(100);
    const long = `${'a'.repeat(90)} password=${'s'.repeat(40)}`;
    expect(redact(long, 100)).not.toContain('sss');
  });
});

describe('redactDeep', () => {
  it('redacts strings anywhere, values under secret-named keys, env pairs and flag arguments', () => {
    const facts = {
      lines: [`connect postgres://app:S3cr3tPass@db:5432/shop`, 'ok'],
      config: { dbPassword: 'hunter2-deep', apiKey: 12345678, port: 5432, region: 'us-east-1' },
      environment: [
        { name: 'DB_PASSWORD', value: 'env-Secr3t' },
        { name: 'LOG_LEVEL', value: 'info' },
      ],
      command: {
        from: ['node', 'server.js'],
        to: ['node', 'server.js', '--password', 'cmd-Secr3t', '--port', '80'],
      },
    };
    const out = redactDeep(facts);
    const text = JSON.stringify(out);
    for (const secret of ['S3cr3tPass', 'hunter2-deep', '12345678', 'env-Secr3t', 'cmd-Secr3t'])
      expect(text).not.toContain(secret);
    expect(out.config.port).toBe(5432);
    expect(out.config.region).toBe('us-east-1');
    expect(out.environment[1]).toEqual({ name: 'LOG_LEVEL', value: 'info' });
    expect(out.command.to).toEqual(['node', 'server.js', '--password', '[redacted]', '--port', '80']);
    expect(facts.config.dbPassword).toBe('hunter2-deep'); // the input is not mutated
  });

  it('leaves AWS documented events as they are', () => {
    for (const event of [
      compositeAlarmSuppressedEvent,
      fargateSpotInterruptionEvent,
      fargateSpotTerminationNoticeEvent,
      fargateSpotPlacementFailureEvent,
      serviceSteadyStateEvent,
      serviceDeploymentCompletedEvent,
    ])
      expect(redactDeep(event)).toEqual(event);
  });
});
