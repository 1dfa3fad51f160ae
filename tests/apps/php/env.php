<?php
// The params php-fpm received, as JSON (tests/fastcgi_proxy.rs).
header('Content-Type: application/json');
$out = [];
foreach ($_SERVER as $k => $v) {
    if (is_string($v)) {
        $out[$k] = $v;
    }
}
$out['pid'] = (string) getmypid();
echo json_encode($out);
