<?php
// Sends the request body back unchanged, with its length and hash in headers.
$in = file_get_contents('php://input');
header('Content-Type: application/octet-stream');
header('X-Length: ' . strlen($in));
header('X-Content-Length: ' . ($_SERVER['CONTENT_LENGTH'] ?? ''));
header('X-Sha256: ' . hash('sha256', $in));
echo $in;
