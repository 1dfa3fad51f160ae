<?php
// Writes "first", then waits until the test has seen it and creates the file named by
// ?go=, then writes "last": the client can only get "last" if "first" was streamed.
header('Content-Type: text/plain');
echo "first\n";
flush();
$go = $_GET['go'] ?? '';
for ($i = 0; $i < 1000 && !file_exists($go); $i++) {
    usleep(10000);
}
echo file_exists($go) ? "last\n" : "timed out\n";
