<?php
// Answers after ?ms= milliseconds (the read-timeout test).
usleep((int) ($_GET['ms'] ?? 0) * 1000);
echo "slow done\n";
