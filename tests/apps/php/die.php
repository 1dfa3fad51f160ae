<?php
// Counts its runs in the file named by ?runs=, then its php-fpm child dies (SIGKILL) before
// answering: a request sent twice shows as two runs.
file_put_contents($_GET['runs'], "run\n", FILE_APPEND);
exec('kill -9 ' . getmypid());
sleep(5);
echo "not reached\n";
