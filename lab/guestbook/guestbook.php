<?php
// The guestbook frontend's HTTP API, as the upstream gb-frontend image serves it
// (kubernetes/examples guestbook/php-redis/guestbook.php): writes go to the Redis leader,
// reads to a follower, one new Redis connection per request. The upstream code uses Predis;
// this one uses Debian's php-redis extension, and JSON-escapes the value it returns.
// Where Redis is comes from the environment (upstream: GET_HOSTS_FROM=env), set by lab/guestbook.ts.
if (!isset($_GET['cmd'])) {
    header('Content-Type: text/plain');
    print("guestbook frontend: GET /guestbook.php?cmd=get&key=guestbook or cmd=set&key=guestbook&value=...\n");
    exit;
}
header('Content-Type: application/json');
$key = isset($_GET['key']) ? $_GET['key'] : 'guestbook';
$redis = new Redis();
try {
    if ($_GET['cmd'] == 'set') {
        $redis->connect(getenv('REDIS_LEADER_SERVICE_HOST'), (int) getenv('REDIS_LEADER_SERVICE_PORT'), 5.0);
        // Upstream stores the value as given (the browser sends the whole list, joined by commas).
        $redis->set($key, isset($_GET['value']) ? $_GET['value'] : '');
        print('{"message": "Updated"}');
    } else {
        $redis->connect(getenv('REDIS_FOLLOWER_SERVICE_HOST'), (int) getenv('REDIS_FOLLOWER_SERVICE_PORT'), 5.0);
        $value = $redis->get($key);
        print('{"data": ' . json_encode($value === false ? '' : (string) $value) . '}');
    }
    $redis->close();
} catch (RedisException $e) {
    http_response_code(503);
    print(json_encode(['error' => $e->getMessage()]));
}
