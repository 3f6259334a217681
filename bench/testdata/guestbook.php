<?php
// The guestbook API of the upstream sample (gb-frontend's guestbook.php: cmd=get reads the key
// from the Redis followers, cmd=set writes it to the leader), for loopback tests only. One Redis
// plays leader and follower. Content-Length is set because `php -S` closes every connection and
// wrk counts a body ended by a close as a read error.
$redis = new Redis();
$redis->connect(getenv('REDIS_HOST') ?: '127.0.0.1', (int) (getenv('REDIS_PORT') ?: 6379));
header('Content-Type: application/json');
if (($_GET['cmd'] ?? '') === 'set') {
    $redis->set($_GET['key'] ?? 'guestbook', $_GET['value'] ?? '');
    $body = '{"message": "Updated"}';
} else {
    $body = json_encode(['data' => $redis->get($_GET['key'] ?? 'guestbook')]);
}
header('Content-Length: ' . strlen($body));
print($body);
