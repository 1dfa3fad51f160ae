<?php
// A fatal error: php-fpm answers 500 and logs the error on FastCGI STDERR.
undefined_function_for_dockside_test();
