#pragma once
// placeholder: replaced by the summary implementation
