<?php
echo "index of ", $_SERVER['SCRIPT_NAME'], "\n";
